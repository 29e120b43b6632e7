variable "name" {
  type        = string
  description = "Name prefix; also the OpenSearch domain name (3-28 characters)."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,27}$", var.name))
    error_message = "The name must be 3-28 characters of lowercase letters, digits and dashes, starting with a letter (an OpenSearch domain name)."
  }
}

variable "engine_version" {
  type        = string
  description = "OpenSearch engine version of the read store."
  default     = "OpenSearch_2.15"
  validation {
    condition     = can(regex("^(OpenSearch_2\\.[0-9]+|Elasticsearch_7\\.10)$", var.engine_version))
    error_message = "The engine_version must be OpenSearch_2.x or Elasticsearch_7.10."
  }
}

variable "instance_type" {
  type        = string
  description = "Data node instance type, e.g. t3.small.search for dev, r6g.large.search for prod."
  validation {
    condition     = can(regex("^[a-z0-9]+\\.[a-z0-9]+\\.search$", var.instance_type)) && !startswith(var.instance_type, "t2.")
    error_message = "The instance_type must look like t3.small.search (t2 cannot encrypt at rest)."
  }
}

variable "instance_count" {
  type        = number
  description = "Data nodes; 1 for dev, 3 (one per AZ) for staging and prod."
  default     = 3
  validation {
    condition     = var.instance_count >= 1 && var.instance_count <= 20
    error_message = "The instance_count must be between 1 and 20."
  }
}

variable "dedicated_master_type" {
  type        = string
  description = "Instance type of 3 dedicated master nodes; empty for none (dev)."
  default     = ""
  validation {
    condition     = var.dedicated_master_type == "" || can(regex("^[a-z0-9]+\\.[a-z0-9]+\\.search$", var.dedicated_master_type))
    error_message = "The dedicated_master_type must be empty or look like m6g.large.search."
  }
}

variable "volume_size_gb" {
  type        = number
  description = "gp3 EBS volume per data node."
  default     = 20
  validation {
    condition     = var.volume_size_gb >= 10 && var.volume_size_gb <= 16384
    error_message = "The volume_size_gb must be between 10 and 16384."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC of the domain."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets; the domain uses as many as it has AZs (1 for a single node, else up to 3)."
  validation {
    condition     = length(var.subnet_ids) >= 1
    error_message = "At least one subnet is needed."
  }
}

variable "client_security_group_ids" {
  type        = list(string)
  description = "Security groups allowed to reach the domain on 443 (the app instances)."
}

variable "client_role_arns" {
  type        = list(string)
  description = "IAM roles whose signed requests the domain admits (the app instances'); the first is the fine-grained access control master user."
  validation {
    condition     = length(var.client_role_arns) >= 1 && alltrue([for a in var.client_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", a))])
    error_message = "The client_role_arns must be one or more IAM role ARNs."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "Environment KMS key: encryption at rest and the domain's log groups."
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "The kms_key_arn must be a KMS key ARN."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the domain's logs."
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
