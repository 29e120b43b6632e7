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
  description = "AMI baked by packer/zookeeper.pkr.hcl (ZooKeeper 3.8 plus Kafka for the KRaft switch) for nodes created or rolled from now on; running nodes keep theirs until rolled."
  validation {
    condition     = can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "The ami_id must look like ami-0123456789abcdef0."
  }
}

variable "pinned_ami_ids" {
  type        = map(string)
  description = "AMI per node (myid \"1\", \"2\", ...) that overrides ami_id for that node when it is created or rolled."
  default     = {}
  validation {
    condition     = alltrue([for k, v in var.pinned_ami_ids : can(regex("^[1-5]$", k)) && can(regex("^ami-[0-9a-f]{8,17}$", v))])
    error_message = "The pinned_ami_ids keys must be node ids (\"1\" to \"5\") and the values AMI ids."
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

variable "static_cidrs" {
  type        = list(string)
  description = "Reserved range of each subnet in subnet_ids (the network module's static_cidrs, same order); each node's address comes from it, so no other ENI can take one."
  validation {
    condition     = alltrue([for c in var.static_cidrs : can(cidrhost(c, 0))])
    error_message = "Every static_cidrs entry must be a CIDR."
  }
}

variable "azs" {
  type        = list(string)
  description = "Availability zone of each subnet, same order (where each node's volumes are created)."
}

variable "address_offset" {
  type        = number
  description = "Offset inside each subnet's reserved range of the first node there (8 and up belong to the brokers)."
  default     = 0
  validation {
    condition     = var.address_offset >= 0 && var.address_offset <= 5 && floor(var.address_offset) == var.address_offset
    error_message = "The address_offset must be a whole number from 0 to 5."
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

variable "data_volume_size_gb" {
  type        = number
  description = "Size of each of the two other volumes: ZooKeeper's dataDir (snapshots, myid) and the KRaft metadata log."
  default     = 10
  validation {
    condition     = var.data_volume_size_gb >= 8 && var.data_volume_size_gb <= 1000
    error_message = "The data_volume_size_gb must be between 8 and 1000."
  }
}

variable "protect_data" {
  type        = bool
  description = "prevent_destroy on the volumes and network interfaces (staging and prod); off only for engineer environments, which are destroyed daily."
  default     = true
}

variable "session_manager_policy_arn" {
  type        = string
  description = "Managed policy that lets the SSM agent register the instance for Session Manager (AmazonSSMManagedInstanceCore)."
  default     = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::(aws|[0-9]{12}):policy/", var.session_manager_policy_arn))
    error_message = "The session_manager_policy_arn must be an IAM policy ARN."
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

variable "metrics_namespace" {
  type        = string
  description = "CloudWatch namespace owp-node-metrics publishes the nodes' health to (OWP/<environment>); the alarms watch it."
  validation {
    condition     = can(regex("^OWP/[a-z0-9-]+$", var.metrics_namespace))
    error_message = "The metrics_namespace must look like OWP/dev-alice."
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

variable "disk_alarm_percent" {
  type        = number
  description = "Used share (percent) of the fullest data volume that raises the disk alarm."
  default     = 80
  validation {
    condition     = var.disk_alarm_percent >= 50 && var.disk_alarm_percent <= 95
    error_message = "The disk_alarm_percent must be between 50 and 95."
  }
}

variable "session_log_group_arn" {
  type        = string
  description = "ARN of the account's Session Manager transcript log group (terraform/bootstrap, /owp/session-manager)."
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:logs:[a-z0-9-]+:[0-9]{12}:log-group:/owp/session-manager$", var.session_log_group_arn))
    error_message = "The session_log_group_arn must be the ARN of the /owp/session-manager log group."
  }
}
