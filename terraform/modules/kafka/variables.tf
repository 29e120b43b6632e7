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
  description = "EC2 instance type of the brokers; Nitro (the log lives on the gp3 data volume, not on instance store)."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.instance_type)) && !can(regex("^(t2|m4|c4|r4|i3)\\.", var.instance_type))
    error_message = "The instance_type must look like m6i.large and be a Nitro type (not t2, m4, c4, r4 or i3)."
  }
}

variable "ami_id" {
  type        = string
  description = "AMI baked by packer/kafka.pkr.hcl for brokers created or rolled from now on; running brokers keep theirs (ignore_changes) until they are rolled."
  validation {
    condition     = can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "The ami_id must look like ami-0123456789abcdef0."
  }
}

variable "pinned_ami_ids" {
  type        = map(string)
  description = "AMI per broker id (\"1\", \"2\", ...) that overrides ami_id for that broker when it is created or rolled: a canary on a new image, or a node held on a known one."
  default     = {}
  validation {
    condition     = alltrue([for k, v in var.pinned_ami_ids : can(regex("^[1-9][0-9]*$", k)) && can(regex("^ami-[0-9a-f]{8,17}$", v))])
    error_message = "The pinned_ami_ids keys must be broker ids (\"1\", \"2\", ...) and the values AMI ids."
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

variable "static_cidrs" {
  type        = list(string)
  description = "Reserved range of each subnet in subnet_ids (the network module's static_cidrs, same order); broker addresses come from it, so no other ENI can take one."
  validation {
    condition     = alltrue([for c in var.static_cidrs : can(cidrhost(c, 0))])
    error_message = "Every static_cidrs entry must be a CIDR."
  }
}

variable "azs" {
  type        = list(string)
  description = "Availability zone of each subnet, same order; it becomes broker.rack."
}

variable "address_offset" {
  type        = number
  description = "Offset inside each subnet's reserved range of the first broker there (0-7 belong to the metadata nodes)."
  default     = 8
  validation {
    condition     = var.address_offset >= 8 && var.address_offset <= 24 && floor(var.address_offset) == var.address_offset
    error_message = "The address_offset must be a whole number from 8 to 24."
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
  description = "KMS key that encrypts the brokers' root and data volumes."
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "The kms_key_arn must be a KMS key ARN."
  }
}

variable "data_volume_size_gb" {
  type        = number
  description = "gp3 data volume per broker (its log.dirs); it survives instance replacement."
  default     = 100
  validation {
    condition     = var.data_volume_size_gb >= 10 && var.data_volume_size_gb <= 16384
    error_message = "The data_volume_size_gb must be between 10 and 16384."
  }
}

variable "data_volume_iops" {
  type        = number
  description = "Provisioned IOPS of each data volume (gp3: 3000 included)."
  default     = 3000
  validation {
    condition     = var.data_volume_iops >= 3000 && var.data_volume_iops <= 16000
    error_message = "The data_volume_iops must be between 3000 and 16000."
  }
}

variable "data_volume_throughput" {
  type        = number
  description = "Provisioned throughput (MiB/s) of each data volume (gp3: 125 included)."
  default     = 125
  validation {
    condition     = var.data_volume_throughput >= 125 && var.data_volume_throughput <= 1000
    error_message = "The data_volume_throughput must be between 125 and 1000."
  }
}

variable "data_device_name" {
  type        = string
  description = "Device name the data volume is attached as; owp-kafka-node mounts it (amazon-ec2-utils links the NVMe device to this name)."
  default     = "/dev/sdf"
  validation {
    condition     = can(regex("^/dev/sd[f-p]$", var.data_device_name))
    error_message = "The data_device_name must be /dev/sdf to /dev/sdp."
  }
}

variable "protect_data" {
  type        = bool
  description = "prevent_destroy on the data volumes and network interfaces (staging and prod); off only for engineer environments, which are destroyed daily."
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

variable "secure" {
  type        = bool
  description = "SASL/SCRAM-SHA-512 over TLS on the one broker listener, and ACLs per service principal from templates/kafka-acls.tftpl (nothing allowed without one). ZooKeeper mode only for now."
  default     = true
}

variable "secret_recovery_days" {
  type        = number
  description = "Recovery window of the Kafka secrets (0 deletes them at once; engineer environments)."
  default     = 7
  validation {
    condition     = var.secret_recovery_days == 0 || (var.secret_recovery_days >= 7 && var.secret_recovery_days <= 30)
    error_message = "The secret_recovery_days must be 0 or between 7 and 30."
  }
}
