output "instance_id" {
  description = "ID of the EC2 instance."
  value       = aws_instance.stack.id
}

output "public_ip" {
  description = "Public IPv4 address of the host. It changes if the instance is stopped and started."
  value       = aws_instance.stack.public_ip
}

output "public_dns" {
  description = "Public DNS name of the host."
  value       = aws_instance.stack.public_dns
}

output "urls" {
  description = "URL of each UI and API, reachable from allowed_cidrs."
  value       = { for name, p in local.stack_ports : name => "http://${aws_instance.stack.public_ip}:${p.port}/" }
}

output "smoke_command" {
  description = "Checks every UI and API of the deployed stack from a clone of the repository."
  value       = "scripts/smoke --host ${aws_instance.stack.public_ip} --timeout 900"
}

output "ssm_session_command" {
  description = "Opens a shell on the host through SSM Session Manager (null when it is off)."
  value       = var.enable_ssm_session_manager ? "aws ssm start-session --region ${var.aws_region} --target ${aws_instance.stack.id}" : null
}

output "ssh_command" {
  description = "SSH to the host (null without ssh_public_key)."
  value       = var.ssh_public_key == null ? null : "ssh admin@${aws_instance.stack.public_ip}"
}
