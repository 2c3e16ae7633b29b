locals {
  # Every port the compose stack publishes, and what answers there. The
  # security group opens exactly these (plus SSH with a key), the outputs list
  # them, and scripts/smoke checks the same set.
  stack_ports = {
    apimon         = { port = 5000, description = "apimon, the Pokedex HTTP API" }
    api_prometheus = { port = 8689, description = "api-prometheus, the second API" }
    grafana        = { port = 3000, description = "Grafana" }
    prometheus     = { port = 9090, description = "Prometheus" }
    alertmanager   = { port = 9093, description = "Alertmanager" }
    jaeger         = { port = 16686, description = "Jaeger UI and query API" }
    cadvisor       = { port = 8080, description = "cAdvisor" }
  }

  # One rule per (port, allowed range) pair.
  stack_ingress = {
    for pair in setproduct(keys(local.stack_ports), var.allowed_cidrs) :
    "${pair[0]} ${pair[1]}" => {
      port        = local.stack_ports[pair[0]].port
      description = local.stack_ports[pair[0]].description
      cidr        = pair[1]
    }
  }
  ssh_ingress = var.ssh_public_key == null ? toset([]) : toset(var.allowed_cidrs)
}

resource "aws_security_group" "stack" {
  name        = "${var.name}-stack"
  description = "The stack's UIs and APIs, reachable from allowed_cidrs only"
  vpc_id      = aws_vpc.stack.id

  tags = { Name = "${var.name}-stack" }
}

resource "aws_vpc_security_group_ingress_rule" "stack" {
  for_each = local.stack_ingress

  security_group_id = aws_security_group.stack.id
  description       = each.value.description
  cidr_ipv4         = each.value.cidr
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
}

resource "aws_vpc_security_group_ingress_rule" "ssh" {
  for_each = local.ssh_ingress

  security_group_id = aws_security_group.stack.id
  description       = "SSH, only when a key pair is configured"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
}

# Outbound: HTTP and HTTPS only (Debian and Docker packages, container images,
# the Git repository, SSM, Telegram's Bot API). DNS to the VPC resolver and
# the instance metadata service are not filtered by security groups.
resource "aws_vpc_security_group_egress_rule" "web" {
  for_each = toset(["80", "443"])

  security_group_id = aws_security_group.stack.id
  description       = "Outbound ${each.value == "443" ? "HTTPS" : "HTTP"}"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = tonumber(each.value)
  to_port           = tonumber(each.value)
}
