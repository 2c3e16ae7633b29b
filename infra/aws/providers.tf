# Credentials come from the AWS SDK's usual chain: AWS_* environment variables,
# a profile (AWS_PROFILE), or the role a workflow assumed. None belong here.
provider "aws" {
  region = var.aws_region

  default_tags {
    tags = {
      Project   = var.name
      ManagedBy = "opentofu"
      Source    = "infra/aws"
    }
  }
}
