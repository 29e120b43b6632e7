variable "owner" {
  type        = string
  description = "Who answers for the account-level resources; the owner tag."
  validation {
    condition     = can(regex("^[A-Za-z0-9 ._@+-]{2,64}$", var.owner))
    error_message = "The owner must be 2-64 characters: letters, digits, spaces and . _ @ + -."
  }
}

variable "region" {
  type        = string
  description = "Region of the state bucket and the account-level resources."
  default     = "us-east-1"
  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "The region must look like us-east-1."
  }
}

variable "export_lock_days" {
  type        = number
  description = "Object Lock (compliance mode) retention of database exports: nobody, root included, can delete them earlier."
  default     = 30
  validation {
    condition     = var.export_lock_days >= 1 && var.export_lock_days <= 3650
    error_message = "The export_lock_days must be between 1 and 3650."
  }
}

variable "export_expire_days" {
  type        = number
  description = "Days after which database exports expire (after the lock has run out)."
  default     = 400
  validation {
    condition     = var.export_expire_days >= 30
    error_message = "The export_expire_days must be at least 30."
  }
}

variable "log_expire_days" {
  type        = number
  description = "Days ALB and S3 access logs are kept."
  default     = 365
  validation {
    condition     = var.log_expire_days >= 30
    error_message = "The log_expire_days must be at least 30."
  }
}

variable "backup_min_retention_days" {
  type        = number
  description = "Vault lock: no backup copy can be deleted earlier than this (every environment's copy retention must be at least this)."
  default     = 7
  validation {
    condition     = var.backup_min_retention_days >= 1 && var.backup_min_retention_days <= 35
    error_message = "The backup_min_retention_days must be between 1 and 35."
  }
}

variable "backup_max_retention_days" {
  type        = number
  description = "Vault lock: no plan may keep a copy longer than this."
  default     = 400
  validation {
    condition     = var.backup_max_retention_days >= 35 && var.backup_max_retention_days <= 3650
    error_message = "The backup_max_retention_days must be between 35 and 3650."
  }
}

variable "max_engineer_environments" {
  type        = number
  description = "Engineer environments allowed at once in this account and region (terraform/env enforces it). Above 1, the VPC and Elastic IP quota increases this needs are requested."
  default     = 1
  validation {
    condition     = var.max_engineer_environments >= 0 && var.max_engineer_environments <= 30 && floor(var.max_engineer_environments) == var.max_engineer_environments
    error_message = "The max_engineer_environments must be a whole number from 0 to 30."
  }
}

variable "jenkins_principal_arns" {
  type        = list(string)
  description = "IAM roles or users of the Jenkins agents that may assume the publisher role (jenkins/README.md); empty creates only the policy."
  default     = []
  validation {
    condition     = alltrue([for a in var.jenkins_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/", a))])
    error_message = "The jenkins_principal_arns must be IAM role or user ARNs."
  }
}
