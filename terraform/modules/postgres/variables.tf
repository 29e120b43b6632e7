variable "name" {
  type        = string
  description = "Name prefix of every resource and the RDS identifier, e.g. owp-dev-alice."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,28}$", var.name))
    error_message = "The name must be 3-29 characters of lowercase letters, digits and dashes, starting with a letter."
  }
}

variable "instance_class" {
  type        = string
  description = "RDS instance class, e.g. db.t4g.small for dev, db.r6g.large for prod."
  validation {
    condition     = can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.instance_class))
    error_message = "The instance_class must look like db.t4g.small."
  }
}

variable "engine_version" {
  type        = string
  description = "PostgreSQL major version; minor versions are applied automatically in the maintenance window."
  default     = "16"
  validation {
    condition     = contains(["15", "16", "17"], var.engine_version)
    error_message = "The engine_version must be a supported major version: 15, 16 or 17."
  }
}

variable "allocated_storage_gb" {
  type        = number
  description = "Initial gp3 storage; it grows automatically up to max_allocated_storage_gb."
  default     = 20
  validation {
    condition     = var.allocated_storage_gb >= 20 && var.allocated_storage_gb <= 65536
    error_message = "The allocated_storage_gb must be between 20 and 65536."
  }
}

variable "max_allocated_storage_gb" {
  type        = number
  description = "Upper bound of storage autoscaling."
  default     = 100
  validation {
    condition     = var.max_allocated_storage_gb >= var.allocated_storage_gb
    error_message = "The max_allocated_storage_gb must be at least allocated_storage_gb."
  }
}

variable "multi_az" {
  type        = bool
  description = "Synchronous standby in a second AZ (staging and prod)."
  default     = true
}

variable "backup_retention_days" {
  type        = number
  description = "Days of automated backups (point-in-time recovery window); they are kept after the instance is deleted."
  default     = 7
  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35
    error_message = "The backup_retention_days must be between 1 and 35: backups are never switched off."
  }
}

variable "deletion_protection" {
  type        = bool
  description = "RDS deletion protection. Only terraform/env's dev destroy flow turns it off, for the one apply before destroy."
  default     = true
}

variable "secret_recovery_days" {
  type        = number
  description = "Recovery window of the database secret after deletion; 0 (dev destroy flow only) frees the name at once so the environment can be created again."
  default     = 7
  validation {
    condition     = var.secret_recovery_days == 0 || (var.secret_recovery_days >= 7 && var.secret_recovery_days <= 30)
    error_message = "The secret_recovery_days must be 0 or between 7 and 30."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC of the database."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets for the DB subnet group (at least two AZs)."
  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "RDS needs subnets in at least two AZs."
  }
}

variable "client_security_group_ids" {
  type        = list(string)
  description = "Security groups allowed to connect on 5432 (app instances, the export function is not one)."
}

variable "kms_key_arn" {
  type        = string
  description = "Environment KMS key: storage, Performance Insights, the secret, logs."
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "The kms_key_arn must be a KMS key ARN."
  }
}

variable "export_bucket_name" {
  type        = string
  description = "Bucket (created by terraform/bootstrap, outside this environment's state) that receives the scheduled snapshot exports."
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.export_bucket_name))
    error_message = "The export_bucket_name must be an S3 bucket name."
  }
}

variable "export_kms_key_arn" {
  type        = string
  description = "KMS key (from terraform/bootstrap) that encrypts the exports; it outlives every environment."
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.export_kms_key_arn))
    error_message = "The export_kms_key_arn must be a KMS key ARN."
  }
}

variable "export_schedule" {
  type        = string
  description = "EventBridge Scheduler expression of the daily export of the newest automated snapshot."
  default     = "cron(30 6 * * ? *)"
  validation {
    condition     = can(regex("^(cron|rate)\\(.+\\)$", var.export_schedule))
    error_message = "The export_schedule must be a cron(...) or rate(...) expression."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the PostgreSQL and export-function logs."
  default     = 365
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "The log_retention_days must be a value CloudWatch Logs accepts."
  }
}

variable "alarm_topic_arn" {
  type        = string
  description = "SNS topic that every alarm notifies."
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sns:", var.alarm_topic_arn))
    error_message = "The alarm_topic_arn must be an SNS topic ARN."
  }
}

variable "runbook_base_url" {
  type        = string
  description = "Prefix of runbook links in alarm descriptions; empty leaves the repository path runbooks/<name>.md."
  default     = ""
  validation {
    condition     = var.runbook_base_url == "" || can(regex("^https://", var.runbook_base_url))
    error_message = "The runbook_base_url must be empty or an https:// URL."
  }
}

variable "backup_schedule" {
  type        = string
  description = "EventBridge cron of the daily AWS Backup (staggered per environment by the stack)."
  default     = "cron(0 1 * * ? *)"
  validation {
    condition     = can(regex("^cron\\(.+\\)$", var.backup_schedule))
    error_message = "The backup_schedule must be a cron(...) expression."
  }
}

variable "backup_copy_retention_days" {
  type        = number
  description = "Days each daily copy stays in the locked vault (within the vault lock's bounds, terraform/bootstrap: 7 to 400)."
  default     = 35
  validation {
    condition     = var.backup_copy_retention_days >= 7 && var.backup_copy_retention_days <= 400
    error_message = "The backup_copy_retention_days must be between 7 and 400 (the vault lock's bounds)."
  }
}

variable "database_kms_key_arn" {
  type        = string
  description = "Key of the database storage when it is not kms_key_arn: only for a database restored from the locked vault, which carries the bootstrap backup key (changing the key of an existing database replaces it)."
  default     = ""
  validation {
    condition     = var.database_kms_key_arn == "" || can(regex("^arn:aws[a-z-]*:kms:", var.database_kms_key_arn))
    error_message = "The database_kms_key_arn must be empty or a KMS key ARN."
  }
}
