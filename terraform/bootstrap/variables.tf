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
