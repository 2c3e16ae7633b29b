data "aws_ec2_instance_type" "selected" {
  instance_type = var.instance_type
}

data "aws_ec2_instance_type_offerings" "selected" {
  location_type = "availability-zone"

  filter {
    name   = "instance-type"
    values = [var.instance_type]
  }
}

locals {
  # Debian names its images by Debian architecture; EC2 by its own.
  arm64             = contains(data.aws_ec2_instance_type.selected.supported_architectures, "arm64")
  availability_zone = coalesce(var.availability_zone, sort(data.aws_ec2_instance_type_offerings.selected.locations)[0])
}

# The newest official Debian 13 (trixie) image, published by Debian's cloud
# team from their AWS account.
data "aws_ami" "debian" {
  most_recent = true
  owners      = ["136693071363"]

  filter {
    name   = "name"
    values = [local.arm64 ? "debian-13-arm64-*" : "debian-13-amd64-*"]
  }

  filter {
    name   = "architecture"
    values = [local.arm64 ? "arm64" : "x86_64"]
  }

  filter {
    name   = "virtualization-type"
    values = ["hvm"]
  }
}

resource "aws_key_pair" "admin" {
  count = var.ssh_public_key == null ? 0 : 1

  key_name   = "${var.name}-admin"
  public_key = var.ssh_public_key
}

resource "aws_instance" "stack" {
  #checkov:skip=CKV_AWS_88:The stack is reached directly on its public address; the security group admits allowed_cidrs only.
  #checkov:skip=CKV_AWS_126:The stack monitors its own host (node-exporter, cAdvisor, Prometheus); CloudWatch detailed monitoring would only add cost.
  ami                         = coalesce(var.ami_id, data.aws_ami.debian.id)
  instance_type               = var.instance_type
  subnet_id                   = aws_subnet.public.id
  vpc_security_group_ids      = [aws_security_group.stack.id]
  associate_public_ip_address = true
  iam_instance_profile        = aws_iam_instance_profile.instance.name
  key_name                    = one(aws_key_pair.admin[*].key_name)
  ebs_optimized               = true
  monitoring                  = false

  # IMDSv2 only, and one network hop: the host reads its role credentials,
  # the containers (one hop further, behind Docker's bridge) cannot.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  root_block_device {
    volume_type           = "gp3"
    volume_size           = var.root_volume_size_gib
    encrypted             = true
    delete_on_termination = true
  }

  # A changed boot script (another ref, other parameters) means a new host:
  # cloud-init runs user_data at the first boot of an instance only.
  user_data                   = local.user_data
  user_data_replace_on_change = true

  lifecycle {
    ignore_changes = [ami]
  }

  tags = { Name = var.name }

  depends_on = [aws_route_table_association.public, aws_iam_role_policy.read_secrets]
}
