variable "name" {
  type        = string
  description = "Name prefix of every resource, e.g. owp-dev-alice (ALB and target group names add at most 3 characters)."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,25}$", var.name))
    error_message = "The name must be 3-26 characters of lowercase letters, digits and dashes (ALB names are limited to 32)."
  }
}

variable "environment" {
  type        = string
  description = "Environment label written into OWP_ENVIRONMENT and the lease key (dev-<engineer>, staging, prod)."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.environment))
    error_message = "The environment must be lowercase letters, digits and dashes."
  }
}

variable "ami_id" {
  type        = string
  description = "AMI baked by packer/app.pkr.hcl; a new one rolls the fleet through an instance refresh."
  validation {
    condition     = can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "The ami_id must look like ami-0123456789abcdef0."
  }
}

variable "instance_type" {
  type        = string
  description = "EC2 instance type of the app instances."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.instance_type))
    error_message = "The instance_type must look like t3.small."
  }
}

variable "min_size" {
  type        = number
  description = "Minimum app instances; at least 1, and 2 or more where a deploy must not cause downtime."
  default     = 2
  validation {
    condition     = var.min_size >= 1
    error_message = "The min_size must be at least 1."
  }
}

variable "max_size" {
  type        = number
  description = "Maximum app instances."
  default     = 4
  validation {
    condition     = var.max_size >= var.min_size
    error_message = "The max_size must be at least min_size."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC of the ALB and the instances."
}

variable "store_endpoints" {
  type = map(object({
    security_group_id = string
    port              = number
  }))
  description = "The stores the services talk to (kafka, postgres, search): the only places besides HTTPS to AWS the instances may connect to."
  validation {
    condition     = alltrue([for k, v in var.store_endpoints : contains(["kafka", "postgres", "search"], k)])
    error_message = "The store_endpoints keys must be kafka, postgres or search."
  }
}

variable "topic_replication" {
  type        = number
  description = "OWP_TOPIC_REPLICATION for `owp topics` and `owp up` on an instance: the replication factor of topics created from there."
  default     = 3
  validation {
    condition     = var.topic_replication >= 3
    error_message = "The topic_replication must be at least 3 on AWS."
  }
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

variable "public_subnet_ids" {
  type        = list(string)
  description = "Public subnets for the ALB (two AZs or more)."
  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "An ALB needs subnets in at least two AZs."
  }
}

variable "private_subnet_ids" {
  type        = list(string)
  description = "Private subnets for the instances."
  validation {
    condition     = length(var.private_subnet_ids) >= 1
    error_message = "At least one private subnet is needed."
  }
}

variable "domain_name" {
  type        = string
  description = "Public name of the environment's API, e.g. alice.dev.owp.example.com; gets an ACM certificate and an alias record."
  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]*[a-z0-9])?\\.)+[a-z]{2,}$", var.domain_name))
    error_message = "The domain_name must be a lowercase DNS name."
  }
}

variable "route53_zone_id" {
  type        = string
  description = "Route 53 hosted zone that contains domain_name (for certificate validation and the alias)."
  validation {
    condition     = can(regex("^Z[A-Z0-9]{5,31}$", var.route53_zone_id))
    error_message = "The route53_zone_id must look like Z0123456789ABCDEFGHIJ."
  }
}

variable "deregistration_delay_seconds" {
  type        = number
  description = "Target group deregistration delay: short, because the deployer drains before it deregisters."
  default     = 10
  validation {
    condition     = var.deregistration_delay_seconds >= 0 && var.deregistration_delay_seconds <= 60
    error_message = "The deregistration_delay_seconds must be between 0 and 60 to keep deploys fast."
  }
}

variable "deletion_protection" {
  type        = bool
  description = "ALB deletion protection. Only terraform/env's dev destroy flow turns it off."
  default     = true
}

variable "kafka_brokers" {
  type        = string
  description = "OWP_KAFKA_BROKERS for the services."
}

variable "read_store_url" {
  type        = string
  description = "The OpenSearch domain's HTTPS URL; owp-search-signer forwards the services' signed requests there (OWP_READ_STORE is the signer)."
  validation {
    condition     = can(regex("^https://", var.read_store_url))
    error_message = "The read_store_url must be an https:// URL."
  }
}

variable "database_secret_arn" {
  type        = string
  description = "Secrets Manager secret with the database connection (read by owp-database-env)."
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:", var.database_secret_arn))
    error_message = "The database_secret_arn must be a Secrets Manager ARN."
  }
}

variable "kafka_security_protocol" {
  type        = string
  description = "OWP_KAFKA_SECURITY_PROTOCOL of the services: SASL_SSL (the kafka module's secure brokers) or PLAINTEXT."
  default     = "SASL_SSL"
  validation {
    condition     = contains(["SASL_SSL", "PLAINTEXT"], var.kafka_security_protocol)
    error_message = "The kafka_security_protocol must be SASL_SSL or PLAINTEXT."
  }
}

variable "kafka_clients_secret_arn" {
  type        = string
  description = "Secrets Manager secret with the services' Kafka SCRAM passwords (JSON, principal => password; read by owp-database-env); empty with PLAINTEXT."
  default     = ""
  validation {
    condition     = var.kafka_clients_secret_arn == "" || can(regex("^arn:aws[a-z-]*:secretsmanager:", var.kafka_clients_secret_arn))
    error_message = "The kafka_clients_secret_arn must be empty or a Secrets Manager ARN."
  }
}

variable "kafka_ca_parameter" {
  type        = string
  description = "SSM parameter (name) with the Kafka brokers' CA certificate (read by owp-database-env); empty with PLAINTEXT."
  default     = ""
  validation {
    condition     = var.kafka_ca_parameter == "" || can(regex("^/owp/", var.kafka_ca_parameter))
    error_message = "The kafka_ca_parameter must be empty or a parameter name under /owp/."
  }
}

variable "kafka_ca_parameter_arn" {
  type        = string
  description = "ARN of kafka_ca_parameter; empty with PLAINTEXT."
  default     = ""
  validation {
    condition     = var.kafka_ca_parameter_arn == "" || can(regex("^arn:aws[a-z-]*:ssm:", var.kafka_ca_parameter_arn))
    error_message = "The kafka_ca_parameter_arn must be empty or an SSM parameter ARN."
  }
}

variable "database_service_secret_arns" {
  type        = map(string)
  description = "Secrets Manager secret of each service role, by role name (the postgres module's service_secret_arns); owp-database-env hands each service only its own."
  validation {
    condition     = toset(keys(var.database_service_secret_arns)) == toset(["owp_robots", "owp_auth", "owp_translator", "owp_readpoint"]) && alltrue([for arn in values(var.database_service_secret_arns) : can(regex("^arn:aws[a-z-]*:secretsmanager:", arn))])
    error_message = "The database_service_secret_arns must map exactly owp_robots, owp_auth, owp_translator and owp_readpoint to Secrets Manager ARNs."
  }
}

variable "releases_bucket" {
  type        = string
  description = "Releases bucket the deployer downloads from and keeps its lease in."
}

variable "releases_bucket_arn" {
  type        = string
  description = "ARN of releases_bucket, for the instance policy."
}

variable "kms_key_arn" {
  type        = string
  description = "Environment KMS key: volumes, releases bucket objects, the database secret, logs."
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "The kms_key_arn must be a KMS key ARN."
  }
}

variable "log_group_name" {
  type        = string
  description = "CloudWatch Logs group of the services' journal; metric filters for consumer lag and rollbacks read it."
}

variable "log_group_arn" {
  type        = string
  description = "ARN of log_group_name."
}

variable "access_log_bucket" {
  type        = string
  description = "Bucket (from terraform/bootstrap, SSE-S3 as ALB logging requires) for the ALB access logs."
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
  description = "Prefix of runbook links in alarm descriptions (e.g. the repository's web URL); empty leaves the repository path runbooks/<name>.md."
  default     = ""
  validation {
    condition     = var.runbook_base_url == "" || can(regex("^https://", var.runbook_base_url))
    error_message = "The runbook_base_url must be empty or an https:// URL."
  }
}

variable "consumer_lag_threshold" {
  type        = number
  description = "Consumer lag (messages) that pages when exceeded for 10 minutes."
  default     = 10000
  validation {
    condition     = var.consumer_lag_threshold > 0
    error_message = "The consumer_lag_threshold must be positive."
  }
}

variable "waf_rate_limit" {
  type        = number
  description = "Requests per 5 minutes from one IP before the WAF blocks it."
  default     = 2000
  validation {
    condition     = var.waf_rate_limit >= 100
    error_message = "The waf_rate_limit must be at least 100 (the WAF minimum)."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the WAF log group."
  default     = 365
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "The log_retention_days must be a value CloudWatch Logs accepts."
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

variable "read_store_domain_arn" {
  type        = string
  description = "ARN of the OpenSearch domain; the instance role may send it signed HTTP requests."
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:es:", var.read_store_domain_arn))
    error_message = "The read_store_domain_arn must be an OpenSearch domain ARN."
  }
}
