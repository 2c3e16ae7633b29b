# Settings of the deployment. Only allowed_cidrs and repository_url have no
# default; terraform.tfvars.example shows the others.

variable "aws_region" {
  description = "AWS region to deploy to, e.g. us-east-1. The SSM parameters holding the secrets must be in this region."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.aws_region))
    error_message = "aws_region must be a region code such as us-east-1 or eu-central-1."
  }
}

variable "name" {
  description = "Name of the deployment: prefixes every resource name and tags everything (Project tag)."
  type        = string
  default     = "pokedex-stack"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3 to 32 lower-case letters, digits or '-', starting with a letter."
  }
}

variable "allowed_cidrs" {
  description = <<-EOT
    IPv4 address ranges (CIDR) allowed to reach the stack's UIs and APIs, and
    SSH when ssh_public_key is set: usually your own address as a /32, e.g.
    ["203.0.113.7/32"]. Required, never empty, and never 0.0.0.0/0: Prometheus,
    Alertmanager, cAdvisor and Jaeger have no authentication, so anyone who can
    reach them can read every metric and trace, silence alerts and learn the
    host's layout (docs/aws.md explains).
  EOT
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.allowed_cidrs) > 0
    error_message = "allowed_cidrs is empty: give at least one address range, e.g. [\"203.0.113.7/32\"] for your own address."
  }

  validation {
    condition     = alltrue([for cidr in var.allowed_cidrs : can(cidrnetmask(cidr))])
    error_message = "Every entry of allowed_cidrs must be an IPv4 range in CIDR notation, e.g. 203.0.113.7/32."
  }

  validation {
    condition     = alltrue([for cidr in var.allowed_cidrs : !can(cidrnetmask(cidr)) || try(cidrsubnet(cidr, 0, 0) == cidr, false)])
    error_message = "An entry of allowed_cidrs has host bits set (e.g. 203.0.113.7/24): write the network address (203.0.113.0/24) or a /32."
  }

  validation {
    condition     = !contains(var.allowed_cidrs, "0.0.0.0/0")
    error_message = "allowed_cidrs must not contain 0.0.0.0/0: the stack's consoles have no authentication (see docs/aws.md)."
  }
}

variable "instance_type" {
  description = <<-EOT
    EC2 instance type. The stack runs about ten containers and builds two C++
    images on the host at first boot; memory is what matters:
    t3.micro (1 GiB) is too small: the containers alone need more;
    t3.small (2 GiB) builds slowly with swap and runs the stack tightly;
    t3.medium (4 GiB, the default) builds and runs it comfortably;
    t4g.* (Graviton, arm64) sizes cost about 20 % less for the same memory.
  EOT
  type        = string
  default     = "t3.medium"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type must be an EC2 instance type such as t3.medium."
  }
}

variable "root_volume_size_gib" {
  description = "Size of the encrypted gp3 root volume in GiB: the OS, Docker images and build cache, and the databases of Prometheus and MariaDB."
  type        = number
  default     = 30

  validation {
    condition     = var.root_volume_size_gib >= 20 && var.root_volume_size_gib <= 500 && floor(var.root_volume_size_gib) == var.root_volume_size_gib
    error_message = "root_volume_size_gib must be a whole number from 20 to 500."
  }
}

variable "swap_size_gib" {
  description = "Swap file on the root volume, in GiB (0 for none). Lets the C++ image builds finish on 2 GiB instances."
  type        = number
  default     = 2

  validation {
    condition     = var.swap_size_gib >= 0 && var.swap_size_gib <= 16 && floor(var.swap_size_gib) == var.swap_size_gib
    error_message = "swap_size_gib must be a whole number from 0 to 16."
  }
}

variable "vpc_cidr" {
  description = "IPv4 range of the VPC, which holds nothing but this stack."
  type        = string
  default     = "10.42.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr))
    error_message = "vpc_cidr must be an IPv4 range in CIDR notation."
  }
}

variable "subnet_cidr" {
  description = "IPv4 range of the one public subnet; must lie inside vpc_cidr."
  type        = string
  default     = "10.42.1.0/24"

  validation {
    condition     = can(cidrnetmask(var.subnet_cidr))
    error_message = "subnet_cidr must be an IPv4 range in CIDR notation."
  }
}

variable "availability_zone" {
  description = "Availability zone of the subnet and instance; null picks the first zone of the region that offers instance_type."
  type        = string
  default     = null
}

variable "ami_id" {
  description = "AMI to boot; null uses the newest official Debian 13 (trixie) image for the instance type's architecture. The AMI is read at creation only: later Debian releases do not replace a running instance (use `tofu apply -replace=aws_instance.stack`)."
  type        = string
  default     = null

  validation {
    condition     = var.ami_id == null || can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "ami_id must look like ami-0123456789abcdef0."
  }
}

variable "ssh_public_key" {
  description = "OpenSSH public key for the admin user (\"admin\" on Debian). null (the default) creates no key pair and opens no SSH port: use SSM Session Manager instead."
  type        = string
  default     = null

  validation {
    condition     = var.ssh_public_key == null || can(regex("^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$", var.ssh_public_key))
    error_message = "ssh_public_key must be one OpenSSH public key line (ssh-ed25519 AAAA... comment)."
  }
}

variable "enable_ssm_session_manager" {
  description = "Attach AmazonSSMManagedInstanceCore to the instance role, so `aws ssm start-session` opens a shell without any inbound port."
  type        = bool
  default     = true
}

variable "repository_url" {
  description = "HTTPS URL of the Git repository the host clones and builds, e.g. https://github.com/OWNER/REPO.git. It must be readable without credentials."
  type        = string

  # The boot script quotes every value; these patterns also keep out anything
  # a shell or .env parser could read differently (quotes, spaces, $).
  validation {
    condition     = can(regex("^https://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~-]+)+$", var.repository_url))
    error_message = "repository_url must be a plain https:// URL without credentials, e.g. https://github.com/OWNER/REPO.git."
  }
}

variable "repository_ref" {
  description = "Branch, tag or full commit id of the repository to deploy. A tag or commit id deploys the same code at every boot; a branch is fetched again at each boot."
  type        = string
  default     = "main"

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}$", var.repository_ref)) && !strcontains(var.repository_ref, "..")
    error_message = "repository_ref must be a branch, tag or commit id: letters, digits, '.', '_', '/' and '-', not starting with '-' or '.'."
  }
}

variable "telegram_chat_id" {
  description = "Telegram chat Alertmanager notifies: an integer id (negative for groups, -100... for channels). Not a secret; the bot token is, and comes from SSM. null (the default): no notifications, the alerts show in Alertmanager's UI only."
  type        = string
  default     = null

  validation {
    condition     = var.telegram_chat_id == null || can(regex("^-?[0-9]{1,20}$", var.telegram_chat_id))
    error_message = "telegram_chat_id must be an integer such as 123456789 or -1001234567890."
  }
}

variable "secret_parameters" {
  description = <<-EOT
    Names of the SSM Parameter Store parameters (SecureString) the host reads at
    every boot with its instance role; the Telegram bot token only when
    telegram_chat_id is set. Their values never pass through Terraform, its
    state or the workflow logs. Create them before the first apply (docs/aws.md
    shows the commands).
  EOT
  type = object({
    grafana_admin_password = optional(string, "/pokedex-stack/grafana-admin-password")
    telegram_bot_token     = optional(string, "/pokedex-stack/telegram-bot-token")
    db_root_password       = optional(string, "/pokedex-stack/db-root-password")
    db_app_password        = optional(string, "/pokedex-stack/db-app-password")
    db_monitor_password    = optional(string, "/pokedex-stack/db-monitor-password")
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for name in values(var.secret_parameters) : can(regex("^(/[A-Za-z0-9_.-]+)+$", name)) && length(name) <= 1011])
    error_message = "Each secret_parameters entry must be a full parameter name such as /pokedex-stack/db-app-password."
  }

  validation {
    condition     = length(distinct(values(var.secret_parameters))) == length(values(var.secret_parameters))
    error_message = "Each of the secret_parameters must name a different parameter."
  }
}

variable "ssm_kms_key_arn" {
  description = "ARN of the customer-managed KMS key the parameters are encrypted with; null when they use the AWS-managed key alias/aws/ssm."
  type        = string
  default     = null

  validation {
    condition     = var.ssm_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$", var.ssm_kms_key_arn))
    error_message = "ssm_kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)."
  }
}
