variable "name" {
  type        = string
  description = "Name prefix of every resource, e.g. owp-dev-alice."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,28}$", var.name))
    error_message = "The name must be 3-29 characters of lowercase letters, digits and dashes, starting with a letter."
  }
}

variable "metadata_mode" {
  type        = string
  description = "Where brokers keep cluster metadata: \"zookeeper\" (the ensemble) or \"kraft\" (KRaft controllers on the same dedicated nodes)."
  default     = "zookeeper"
  validation {
    condition     = contains(["zookeeper", "kraft"], var.metadata_mode)
    error_message = "The metadata_mode must be \"zookeeper\" or \"kraft\"."
  }
}

variable "broker_count" {
  type        = number
  description = "Kafka brokers, spread round-robin over the AZs; at least 3 for replication factor 3."
  default     = 3
  validation {
    condition     = var.broker_count >= 3 && floor(var.broker_count) == var.broker_count
    error_message = "The broker_count must be a whole number of at least 3."
  }
}

variable "instance_type" {
  type        = string
  description = "EC2 instance type of the brokers; must have instance-store NVMe SSDs (i3en, i4i, m6id, ...)."
  validation {
    condition     = can(regex("^(i3|i3en|i4i|i4g|im4gn|is4gen|m5d|m5ad|m5dn|m6id|m6idn|m6gd|m7gd|c5d|c6id|c6gd|c7gd|r5d|r6id|r6idn|r6gd|r7gd|d3|d3en)\\.", var.instance_type))
    error_message = "The instance_type must be a family with instance-store NVMe disks (e.g. m6id.large, i4i.xlarge)."
  }
}

variable "ami_id" {
  type        = string
  description = "AMI baked by packer/kafka.pkr.hcl."
  validation {
    condition     = can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "The ami_id must look like ami-0123456789abcdef0."
  }
}

variable "heap" {
  type        = string
  description = "JVM heap of each broker (the page cache gets the rest of the memory), e.g. 2g."
  default     = "2g"
  validation {
    condition     = can(regex("^[0-9]+[mg]$", var.heap))
    error_message = "The heap must look like 512m or 2g."
  }
}

variable "replication_factor" {
  type        = number
  description = "default.replication.factor and of the internal topics."
  default     = 3
  validation {
    condition     = var.replication_factor >= 3
    error_message = "The replication_factor must be at least 3."
  }
}

variable "min_insync_replicas" {
  type        = number
  description = "min.insync.replicas: acks=all writes need this many replicas."
  default     = 2
  validation {
    condition     = var.min_insync_replicas >= 2 && var.min_insync_replicas < var.replication_factor
    error_message = "The min_insync_replicas must be at least 2 and below replication_factor (one replica may be down)."
  }
}

variable "num_partitions" {
  type        = number
  description = "Default partition count of topics created without one."
  default     = 12
  validation {
    condition     = var.num_partitions >= 1 && var.num_partitions <= 1000
    error_message = "The num_partitions must be between 1 and 1000."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC the brokers run in."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets, one per AZ; broker i goes to subnet i modulo their count."
  validation {
    condition     = length(var.subnet_ids) >= 3
    error_message = "At least 3 subnets (AZs) are needed for rack-aware replication factor 3."
  }
}

variable "subnet_cidrs" {
  type        = list(string)
  description = "CIDRs of subnet_ids, same order; brokers get fixed addresses so advertised.listeners is known at plan time."
  validation {
    condition     = alltrue([for c in var.subnet_cidrs : can(cidrhost(c, 0))])
    error_message = "Every subnet_cidrs entry must be a CIDR."
  }
}

variable "azs" {
  type        = list(string)
  description = "Availability zone of each subnet, same order; it becomes broker.rack."
}

variable "host_number" {
  type        = number
  description = "Host number inside each subnet of the first broker there (keep clear of the metadata nodes')."
  default     = 20
  validation {
    condition     = var.host_number >= 4 && var.host_number <= 250
    error_message = "The host_number must be between 4 and 250."
  }
}

variable "zookeeper_connect" {
  type        = string
  description = "host:port list of the ZooKeeper ensemble (metadata_mode zookeeper)."
}

variable "zookeeper_chroot" {
  type        = string
  description = "ZooKeeper path all Kafka znodes live under."
  default     = "/owp-kafka"
  validation {
    condition     = can(regex("^/[a-z0-9-]+$", var.zookeeper_chroot))
    error_message = "The zookeeper_chroot must look like /owp-kafka."
  }
}

variable "controller_quorum_voters" {
  type        = string
  description = "controller.quorum.voters of the KRaft controllers (metadata_mode kraft)."
}

variable "metadata_security_group_id" {
  type        = string
  description = "Security group of the metadata nodes; brokers are allowed in as clients."
}

variable "metadata_client_ports" {
  type        = list(number)
  description = "Ports brokers use on the metadata nodes (ZooKeeper client port, KRaft controller port)."
  default     = [2181, 9093]
}

variable "client_security_group_ids" {
  type        = list(string)
  description = "Security groups whose members may produce and consume (the app instances)."
}

variable "kafka_cluster_id" {
  type        = string
  description = "Kafka cluster id (22 base64url characters) for KRaft storage formatting."
  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{22}$", var.kafka_cluster_id))
    error_message = "The kafka_cluster_id must be 22 base64url characters."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key that encrypts the brokers' root volumes."
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "The kms_key_arn must be a KMS key ARN."
  }
}

variable "log_group_name" {
  type        = string
  description = "CloudWatch Logs group the journal shipper writes to."
}

variable "log_group_arn" {
  type        = string
  description = "ARN of log_group_name, for the instance role's policy."
}
