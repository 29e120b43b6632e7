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
  description = "\"zookeeper\" runs ZooKeeper 3.8 on the dedicated nodes; \"kraft\" runs Kafka KRaft controllers on the same nodes (Kafka 4 has no ZooKeeper mode)."
  default     = "zookeeper"
  validation {
    condition     = contains(["zookeeper", "kraft"], var.metadata_mode)
    error_message = "The metadata_mode must be \"zookeeper\" or \"kraft\"."
  }
}

variable "node_count" {
  type        = number
  description = "Dedicated metadata nodes: 3 tolerates one failure, 5 tolerates two."
  default     = 3
  validation {
    condition     = contains([3, 5], var.node_count)
    error_message = "The node_count must be 3 or 5: an ensemble needs an odd majority."
  }
}

variable "instance_type" {
  type        = string
  description = "EC2 instance type of the metadata nodes."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.instance_type))
    error_message = "The instance_type must look like t3.small."
  }
}

variable "ami_id" {
  type        = string
  description = "AMI baked by packer/zookeeper.pkr.hcl (ZooKeeper 3.8 plus Kafka for the KRaft switch)."
  validation {
    condition     = can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "The ami_id must look like ami-0123456789abcdef0."
  }
}

variable "heap" {
  type        = string
  description = "JVM heap (-Xms and -Xmx) of ZooKeeper or the KRaft controller, e.g. 512m."
  default     = "512m"
  validation {
    condition     = can(regex("^[0-9]+[mg]$", var.heap))
    error_message = "The heap must look like 512m or 2g."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC the nodes run in."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets, one per AZ; node i goes to subnet i modulo their count."
  validation {
    condition     = length(var.subnet_ids) >= 3
    error_message = "At least 3 subnets (AZs) are needed so one AZ outage keeps a quorum."
  }
}

variable "subnet_cidrs" {
  type        = list(string)
  description = "CIDRs of subnet_ids, same order; each node gets a fixed address in its subnet so the ensemble's configuration is known before the instances exist."
  validation {
    condition     = alltrue([for c in var.subnet_cidrs : can(cidrhost(c, 0))])
    error_message = "Every subnet_cidrs entry must be a CIDR."
  }
}

variable "host_number" {
  type        = number
  description = "Host number inside each subnet of the first node there (AWS reserves 0-3)."
  default     = 10
  validation {
    condition     = var.host_number >= 4 && var.host_number <= 250
    error_message = "The host_number must be between 4 and 250."
  }
}

variable "txlog_volume_size_gb" {
  type        = number
  description = "Size of the EBS volume that holds ZooKeeper's dataLogDir."
  default     = 20
  validation {
    condition     = var.txlog_volume_size_gb >= 8 && var.txlog_volume_size_gb <= 1000
    error_message = "The txlog_volume_size_gb must be between 8 and 1000."
  }
}

variable "kafka_cluster_id" {
  type        = string
  description = "Kafka cluster id (22 characters, base64url of a UUID) used to format KRaft storage."
  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{22}$", var.kafka_cluster_id))
    error_message = "The kafka_cluster_id must be 22 base64url characters."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key that encrypts the root and transaction-log volumes."
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
