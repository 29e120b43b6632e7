variable "environment" {
  type        = string
  description = "Environment label: dev-<engineer>, staging or prod. Resource names are owp-<environment>."
  validation {
    condition     = can(regex("^(dev-[a-z][a-z0-9]{1,15}|staging|prod)$", var.environment))
    error_message = "The environment must be dev-<engineer> (engineer: 2-16 lowercase letters/digits), staging or prod."
  }
}

variable "cidr_block" {
  type        = string
  description = "VPC CIDR of the environment (/16 to /20)."
  default     = "10.40.0.0/16"
  validation {
    condition     = can(cidrhost(var.cidr_block, 0))
    error_message = "The cidr_block must be a CIDR."
  }
}

variable "availability_zone_suffixes" {
  type        = list(string)
  description = "Zones of the region to use, by letter (3, so Kafka racks and the metadata quorum span three)."
  default     = ["a", "b", "c"]
  validation {
    condition     = length(var.availability_zone_suffixes) >= 3 && length(var.availability_zone_suffixes) <= 4 && alltrue([for s in var.availability_zone_suffixes : can(regex("^[a-z]$", s))])
    error_message = "The availability_zone_suffixes must be 3 or 4 single letters: Kafka (RF 3, rack = AZ) and the metadata quorum need three zones."
  }
}

variable "nat_gateway_count" {
  type        = number
  description = "NAT gateways: 1 for dev, one per AZ for prod."
  default     = 1
  validation {
    condition     = var.nat_gateway_count >= 1 && var.nat_gateway_count <= 4
    error_message = "The nat_gateway_count must be between 1 and 4."
  }
}

variable "metadata_mode" {
  type        = string
  description = "\"zookeeper\" (Kafka 3.9 with the dedicated ZooKeeper ensemble) or \"kraft\" (KRaft controllers on the same dedicated nodes)."
  default     = "zookeeper"
  validation {
    condition     = contains(["zookeeper", "kraft"], var.metadata_mode)
    error_message = "The metadata_mode must be \"zookeeper\" or \"kraft\"."
  }
}

variable "zookeeper_node_count" {
  type        = number
  description = "Dedicated metadata nodes (3 or 5)."
  default     = 3
  validation {
    condition     = contains([3, 5], var.zookeeper_node_count)
    error_message = "The zookeeper_node_count must be 3 or 5."
  }
}

variable "zookeeper_instance_type" {
  type        = string
  description = "Instance type of the metadata nodes."
  default     = "m6i.large"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.zookeeper_instance_type))
    error_message = "The zookeeper_instance_type must look like m6i.large."
  }
}

variable "kafka_broker_count" {
  type        = number
  description = "Kafka brokers (at least 3)."
  default     = 3
  validation {
    condition     = var.kafka_broker_count >= 3
    error_message = "The kafka_broker_count must be at least 3."
  }
}

variable "kafka_instance_type" {
  type        = string
  description = "Instance type of the brokers (Nitro; the log is on the data volume)."
  default     = "m6i.xlarge"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.kafka_instance_type))
    error_message = "The kafka_instance_type must look like m6i.large."
  }
}

variable "kafka_data_volume_size_gb" {
  type        = number
  description = "gp3 data volume of each broker (its log); it survives instance replacement."
  default     = 500
  validation {
    condition     = var.kafka_data_volume_size_gb >= 10 && var.kafka_data_volume_size_gb <= 16384
    error_message = "The kafka_data_volume_size_gb must be between 10 and 16384."
  }
}

variable "kafka_data_volume_iops" {
  type        = number
  description = "IOPS of each broker's data volume (gp3 includes 3000)."
  default     = 3000
  validation {
    condition     = var.kafka_data_volume_iops >= 3000 && var.kafka_data_volume_iops <= 16000
    error_message = "The kafka_data_volume_iops must be between 3000 and 16000."
  }
}

variable "kafka_data_volume_throughput" {
  type        = number
  description = "Throughput (MiB/s) of each broker's data volume (gp3 includes 125)."
  default     = 250
  validation {
    condition     = var.kafka_data_volume_throughput >= 125 && var.kafka_data_volume_throughput <= 1000
    error_message = "The kafka_data_volume_throughput must be between 125 and 1000."
  }
}

variable "kafka_heap" {
  type        = string
  description = "JVM heap of each broker."
  default     = "4g"
  validation {
    condition     = can(regex("^[0-9]+[mg]$", var.kafka_heap))
    error_message = "The kafka_heap must look like 1g or 512m."
  }
}

variable "postgres_instance_class" {
  type        = string
  description = "RDS instance class."
  default     = "db.r6g.large"
  validation {
    condition     = can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.postgres_instance_class))
    error_message = "The postgres_instance_class must look like db.t4g.small."
  }
}

variable "postgres_multi_az" {
  type        = bool
  description = "RDS Multi-AZ standby."
  default     = true
}

variable "postgres_backup_retention_days" {
  type        = number
  description = "Days of automated RDS backups (1-35)."
  default     = 14
  validation {
    condition     = var.postgres_backup_retention_days >= 1 && var.postgres_backup_retention_days <= 35
    error_message = "The postgres_backup_retention_days must be between 1 and 35."
  }
}

variable "postgres_kms_key_arn" {
  type        = string
  description = "Key the database is encrypted with; empty means the environment key. Set only to adopt a database restored from the locked vault (encrypted with the bootstrap backup key) without replacing it: runbooks/restore-rds.md."
  default     = ""
  validation {
    condition     = var.postgres_kms_key_arn == "" || can(regex("^arn:aws[a-z-]*:kms:", var.postgres_kms_key_arn))
    error_message = "The postgres_kms_key_arn must be empty or a KMS key ARN."
  }
}

variable "postgres_backup_copy_days" {
  type        = number
  description = "Days each daily database backup copy stays in the account's locked vault (7-400)."
  default     = 90
  validation {
    condition     = var.postgres_backup_copy_days >= 7 && var.postgres_backup_copy_days <= 400
    error_message = "The postgres_backup_copy_days must be between 7 and 400."
  }
}

variable "search_instance_type" {
  type        = string
  description = "OpenSearch data node type."
  default     = "r6g.large.search"
  validation {
    condition     = can(regex("^[a-z0-9]+\\.[a-z0-9]+\\.search$", var.search_instance_type))
    error_message = "The search_instance_type must look like t3.small.search."
  }
}

variable "search_instance_count" {
  type        = number
  description = "OpenSearch data nodes."
  default     = 3
  validation {
    condition     = var.search_instance_count >= 1
    error_message = "The search_instance_count must be at least 1."
  }
}

variable "search_dedicated_master_type" {
  type        = string
  description = "OpenSearch dedicated master type; empty for none."
  default     = "m6g.large.search"
  validation {
    condition     = var.search_dedicated_master_type == "" || can(regex("^[a-z0-9]+\\.[a-z0-9]+\\.search$", var.search_dedicated_master_type))
    error_message = "The search_dedicated_master_type must be empty or look like m6g.large.search."
  }
}

variable "app_instance_type" {
  type        = string
  description = "Instance type of the app fleet."
  default     = "c6i.large"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.app_instance_type))
    error_message = "The app_instance_type must look like m6i.large."
  }
}

variable "app_min_size" {
  type        = number
  description = "Minimum app instances."
  default     = 3
  validation {
    condition     = var.app_min_size >= 1
    error_message = "The app_min_size must be at least 1."
  }
}

variable "app_max_size" {
  type        = number
  description = "Maximum app instances."
  default     = 6
  validation {
    condition     = var.app_max_size >= 1
    error_message = "The app_max_size must be at least 1."
  }
}

variable "domain_name" {
  type        = string
  description = "Public API name of the environment (e.g. alice.dev.owp.example.com)."
  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]*[a-z0-9])?\\.)+[a-z]{2,}$", var.domain_name))
    error_message = "The domain_name must be a lowercase DNS name."
  }
}

variable "route53_zone_id" {
  type        = string
  description = "Route 53 hosted zone of domain_name."
  validation {
    condition     = can(regex("^Z[A-Z0-9]{5,31}$", var.route53_zone_id))
    error_message = "The route53_zone_id must look like Z0123456789ABCDEFGHIJ."
  }
}

variable "runbook_base_url" {
  type        = string
  description = "Prefix of runbook links in alarm descriptions; empty keeps the repository path runbooks/<file>."
  default     = ""
  validation {
    condition     = var.runbook_base_url == "" || can(regex("^https://", var.runbook_base_url))
    error_message = "The runbook_base_url must be empty or an https:// URL."
  }
}

variable "alarm_email" {
  type        = string
  description = "Optional e-mail address subscribed to the alarm topic (confirm the subscription mail once)."
  default     = ""
  validation {
    condition     = var.alarm_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$", var.alarm_email))
    error_message = "The alarm_email must be empty or an e-mail address."
  }
}

variable "kafka_secure" {
  type        = bool
  description = "Kafka brokers on SASL/SCRAM over TLS with ACLs per service principal (modules/kafka/security.tf); needs metadata_mode = \"zookeeper\" for now."
  default     = true
}

variable "allow_destroy" {
  type        = bool
  description = "Turns deletion protection off (RDS, ALB) and lets buckets be emptied; set only by terraform/env's dev destroy flow."
  default     = false
}

variable "image_manifest_dir" {
  type        = string
  description = "Directory with Packer's manifest post-processor output (app.json, kafka.json, zookeeper.json)."
}

variable "ami_ids" {
  type        = map(string)
  description = "AMI ids that override the manifests, by image name (app, kafka, zookeeper)."
  default     = {}
  validation {
    condition     = alltrue([for k, v in var.ami_ids : contains(["app", "kafka", "zookeeper"], k) && can(regex("^ami-[0-9a-f]{8,17}$", v))])
    error_message = "The ami_ids keys must be app, kafka or zookeeper and the values AMI ids."
  }
}

variable "pinned_ami_ids" {
  type        = map(map(string))
  description = "Per-node AMI pins by image and node id, e.g. { kafka = { \"2\" = \"ami-...\" } }: that node is created or rolled from this AMI instead of the newest manifest's."
  default     = {}
  validation {
    condition     = alltrue([for k, v in var.pinned_ami_ids : contains(["kafka", "zookeeper"], k)])
    error_message = "The pinned_ami_ids keys must be kafka or zookeeper (app instances roll with the Auto Scaling group)."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of every log group of the environment."
  default     = 365
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "The log_retention_days must be a value CloudWatch Logs accepts."
  }
}
