variable "name" {
  type        = string
  description = "Name prefix, e.g. owp-dev-alice; the bucket is <name>-releases-<account id>."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,28}$", var.name))
    error_message = "The name must be 3-29 characters of lowercase letters, digits and dashes, starting with a letter."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "Environment KMS key for the bucket's default encryption."
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "The kms_key_arn must be a KMS key ARN."
  }
}

variable "access_log_bucket" {
  type        = string
  description = "Bucket (from terraform/bootstrap) that receives S3 server access logs."
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.access_log_bucket))
    error_message = "The access_log_bucket must be an S3 bucket name."
  }
}

variable "noncurrent_version_days" {
  type        = number
  description = "Days an overwritten or deleted object version is kept (roll-back window for releases)."
  default     = 90
  validation {
    condition     = var.noncurrent_version_days >= 7
    error_message = "The noncurrent_version_days must be at least 7."
  }
}

variable "force_destroy" {
  type        = bool
  description = "Let terraform destroy empty the bucket. Only terraform/env's dev destroy flow sets it."
  default     = false
}
