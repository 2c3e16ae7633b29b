# One VPC with one public subnet: the instance reaches the internet (packages,
# images, the repository, SSM, Telegram) through the internet gateway.

resource "aws_vpc" "stack" {
  #checkov:skip=CKV2_AWS_11:One host in a VPC of its own, reachable from allowed_cidrs only; flow logs would add a log group, a KMS key and a role, and cost, to record traffic the stack's own metrics already show.
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = { Name = var.name }
}

resource "aws_subnet" "public" {
  vpc_id            = aws_vpc.stack.id
  cidr_block        = var.subnet_cidr
  availability_zone = local.availability_zone
  # The instance asks for its public address itself (aws_instance.stack).
  map_public_ip_on_launch = false

  tags = { Name = "${var.name}-public" }
}

resource "aws_internet_gateway" "stack" {
  vpc_id = aws_vpc.stack.id

  tags = { Name = var.name }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.stack.id

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.stack.id
  }

  tags = { Name = "${var.name}-public" }
}

resource "aws_route_table_association" "public" {
  subnet_id      = aws_subnet.public.id
  route_table_id = aws_route_table.public.id
}

# The VPC's default security group, emptied: nothing may use it by accident.
resource "aws_default_security_group" "default" {
  vpc_id = aws_vpc.stack.id

  tags = { Name = "${var.name}-default-unused" }
}
