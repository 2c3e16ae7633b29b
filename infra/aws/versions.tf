terraform {
  # OpenTofu or Terraform 1.10 or later: the S3 backend's native state locking
  # (use_lockfile) needs it. scripts/tool-versions pins the exact OpenTofu
  # release that scripts/install-tools builds and the workflows install.
  required_version = "~> 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "6.22.0"
    }
  }

  # No backend block: state is local (terraform.tfstate here) unless
  # s3-backend.tf.example is copied to s3-backend.tf; see docs/aws.md.
}
