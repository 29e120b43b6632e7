# One whole OWP environment: the environment's KMS key, journal log group
# and alarm topic, then network, metadata nodes, Kafka, PostgreSQL, the
# read store, the releases bucket and the app fleet. envs/dev, envs/staging
# and envs/prod differ only in the sizes they pass in.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  name       = "owp-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name

  # Account-level resources created once by terraform/bootstrap.
  access_log_bucket  = "owp-logs-${local.account_id}-${local.region}"
  export_bucket_name = "owp-db-exports-${local.account_id}-${local.region}"

  # AMIs: the newest build in each Packer manifest (manifest post-processor
  # output), unless overridden in var.ami_ids.
  images = ["app", "kafka", "zookeeper"]
  manifests = {
    for image in local.images : image => jsondecode(file("${var.image_manifest_dir}/${image}.json"))
    if !contains(keys(var.ami_ids), image)
  }
  manifest_amis = {
    for image, m in local.manifests : image => one([
      for artifact in split(",", one([for b in m.builds : b if b.packer_run_uuid == m.last_run_uuid]).artifact_id) :
      split(":", artifact)[1] if split(":", artifact)[0] == local.region
    ])
  }
  ami_ids = merge(local.manifest_amis, var.ami_ids)

  # Engineer environments are destroyed daily; everywhere else the brokers'
  # and metadata nodes' volumes and addresses carry prevent_destroy.
  protect_data = !startswith(var.environment, "dev-")

  # Custom metrics of the environment: the app's log metric filters and the
  # nodes' owp-node-metrics.
  metrics_namespace = "OWP/${var.environment}"

  # The account's Session Manager transcripts (terraform/bootstrap).
  session_log_group_arn = "arn:${data.aws_partition.current.partition}:logs:${local.region}:${local.account_id}:log-group:/owp/session-manager"

  # Account-wide jobs are spread over the night instead of all starting at
  # once (RDS runs at most five snapshot exports at a time per account): a
  # slot of 15 minutes out of 16, fixed per environment by its name.
  slot            = parseint(substr(sha1(local.name), 0, 6), 16) % 16
  slot_hour       = floor(local.slot * 15 / 60)
  slot_minute     = local.slot * 15 % 60
  backup_schedule = "cron(${local.slot_minute} ${1 + local.slot_hour} * * ? *)"
  export_schedule = "cron(${local.slot_minute} ${6 + local.slot_hour} * * ? *)"
}

# --- Environment key, logs, alarms -----------------------------------------------

data "aws_iam_policy_document" "key" {
  # checkov:skip=CKV_AWS_111:A key policy's resource is always the key itself, written "*"; write access is limited by principal.
  # checkov:skip=CKV_AWS_356:Same: "*" is the only valid resource in a KMS key policy.
  # checkov:skip=CKV_AWS_109:Same: the account root administers its own key, as AWS's default key policy does.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${local.account_id}:root"]
    }
  }
  statement {
    sid       = "CloudWatchLogsEncrypts"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${data.aws_partition.current.partition}:logs:${local.region}:${local.account_id}:*"]
    }
  }
  statement {
    sid       = "AlarmsPublishToEncryptedTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
  }
  # Auto Scaling launches instances with volumes encrypted by this key.
  statement {
    sid       = "AutoScalingUsesKey"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${local.account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"]
    }
  }
  statement {
    sid       = "AutoScalingGrants"
    actions   = ["kms:CreateGrant"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${local.account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"]
    }
    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "OWP ${var.environment}: volumes, RDS, OpenSearch, buckets, secrets, logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json
}

resource "aws_kms_alias" "this" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.this.key_id
}

resource "aws_cloudwatch_log_group" "journal" {
  name              = "/owp/${var.environment}/journal"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
}

resource "aws_sns_topic" "alarms" {
  name              = "${local.name}-alarms"
  kms_master_key_id = aws_kms_key.this.arn
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alarm_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# Kafka's cluster id: 22 base64url characters that decode to 16 bytes. The
# last character carries only two significant bits, so it is fixed at "A";
# the other 21 come from Secrets Manager's generator (letters and digits).
# The parameter keeps the first value (ignore_changes): the data source
# answers a new one on every plan.
data "aws_secretsmanager_random_password" "kafka_cluster" {
  password_length     = 21
  exclude_punctuation = true
}

resource "aws_ssm_parameter" "kafka_cluster_id" {
  # checkov:skip=CKV2_AWS_34:A Kafka cluster id is no secret (every broker logs it and writes it to meta.properties); a SecureString would mark every user data that carries it sensitive.
  name        = "/owp/${var.environment}/kafka/cluster-id"
  description = "Kafka cluster id of ${local.name} (KRaft storage format)"
  type        = "String"
  value       = "${substr(data.aws_secretsmanager_random_password.kafka_cluster.random_password, 0, 21)}A"

  lifecycle {
    ignore_changes = [value]
  }
}

data "aws_kms_alias" "exports" {
  name = "alias/owp-db-exports"
}

# --- The system -----------------------------------------------------------------------

module "network" {
  source = "../network"

  name               = local.name
  cidr_block         = var.cidr_block
  availability_zones = [for s in var.availability_zone_suffixes : "${local.region}${s}"]
  nat_gateway_count  = var.nat_gateway_count
  kms_key_arn        = aws_kms_key.this.arn
  # One endpoint ENI per service where a NAT gateway per zone is not paid
  # for either (engineer environments).
  endpoint_zone_count = var.nat_gateway_count > 1 ? length(var.availability_zone_suffixes) : 1
}

module "zookeeper" {
  source = "../zookeeper"

  name                  = local.name
  metadata_mode         = var.metadata_mode
  node_count            = var.zookeeper_node_count
  instance_type         = var.zookeeper_instance_type
  ami_id                = local.ami_ids["zookeeper"]
  pinned_ami_ids        = lookup(var.pinned_ami_ids, "zookeeper", {})
  protect_data          = local.protect_data
  vpc_id                = module.network.vpc_id
  subnet_ids            = module.network.private_subnet_ids
  static_cidrs          = module.network.static_cidrs
  azs                   = module.network.azs
  kafka_cluster_id      = aws_ssm_parameter.kafka_cluster_id.value
  kms_key_arn           = aws_kms_key.this.arn
  log_group_name        = aws_cloudwatch_log_group.journal.name
  log_group_arn         = aws_cloudwatch_log_group.journal.arn
  metrics_namespace     = local.metrics_namespace
  session_log_group_arn = local.session_log_group_arn
  alarm_topic_arn       = aws_sns_topic.alarms.arn
  runbook_base_url      = var.runbook_base_url
}

module "kafka" {
  source = "../kafka"

  name                       = local.name
  metadata_mode              = var.metadata_mode
  broker_count               = var.kafka_broker_count
  instance_type              = var.kafka_instance_type
  heap                       = var.kafka_heap
  ami_id                     = local.ami_ids["kafka"]
  pinned_ami_ids             = lookup(var.pinned_ami_ids, "kafka", {})
  protect_data               = local.protect_data
  data_volume_size_gb        = var.kafka_data_volume_size_gb
  data_volume_iops           = var.kafka_data_volume_iops
  data_volume_throughput     = var.kafka_data_volume_throughput
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.private_subnet_ids
  static_cidrs               = module.network.static_cidrs
  azs                        = module.network.azs
  zookeeper_connect          = module.zookeeper.zookeeper_connect
  controller_quorum_voters   = module.zookeeper.controller_quorum_voters
  metadata_security_group_id = module.zookeeper.security_group_id
  metadata_client_ports      = [module.zookeeper.client_port, module.zookeeper.controller_port]
  client_security_group_ids  = [module.app.security_group_id]
  kafka_cluster_id           = aws_ssm_parameter.kafka_cluster_id.value
  secure                     = var.kafka_secure
  secret_recovery_days       = var.allow_destroy ? 0 : 7
  kms_key_arn                = aws_kms_key.this.arn
  log_group_name             = aws_cloudwatch_log_group.journal.name
  log_group_arn              = aws_cloudwatch_log_group.journal.arn
  metrics_namespace          = local.metrics_namespace
  session_log_group_arn      = local.session_log_group_arn
  alarm_topic_arn            = aws_sns_topic.alarms.arn
  runbook_base_url           = var.runbook_base_url
}

module "postgres" {
  source = "../postgres"

  name                       = local.name
  instance_class             = var.postgres_instance_class
  multi_az                   = var.postgres_multi_az
  backup_retention_days      = var.postgres_backup_retention_days
  deletion_protection        = !var.allow_destroy
  secret_recovery_days       = var.allow_destroy ? 0 : 7
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.private_subnet_ids
  client_security_group_ids  = [module.app.security_group_id]
  kms_key_arn                = aws_kms_key.this.arn
  export_bucket_name         = local.export_bucket_name
  export_kms_key_arn         = data.aws_kms_alias.exports.target_key_arn
  log_retention_days         = var.log_retention_days
  alarm_topic_arn            = aws_sns_topic.alarms.arn
  runbook_base_url           = var.runbook_base_url
  backup_schedule            = local.backup_schedule
  export_schedule            = local.export_schedule
  backup_copy_retention_days = var.postgres_backup_copy_days
  database_kms_key_arn       = var.postgres_kms_key_arn
}

module "search" {
  source = "../search"

  name                      = local.name
  instance_type             = var.search_instance_type
  instance_count            = var.search_instance_count
  dedicated_master_type     = var.search_dedicated_master_type
  vpc_id                    = module.network.vpc_id
  subnet_ids                = module.network.private_subnet_ids
  client_security_group_ids = [module.app.security_group_id]
  client_role_arns          = [module.app.role_arn]
  kms_key_arn               = aws_kms_key.this.arn
  log_retention_days        = var.log_retention_days
  alarm_topic_arn           = aws_sns_topic.alarms.arn
  runbook_base_url          = var.runbook_base_url
}

module "releases" {
  source = "../releases"

  name              = local.name
  kms_key_arn       = aws_kms_key.this.arn
  access_log_bucket = local.access_log_bucket
  force_destroy     = var.allow_destroy
}

module "app" {
  source = "../app"

  name          = local.name
  environment   = var.environment
  ami_id        = local.ami_ids["app"]
  instance_type = var.app_instance_type
  min_size      = var.app_min_size
  max_size      = var.app_max_size
  vpc_id        = module.network.vpc_id
  store_endpoints = {
    kafka    = { security_group_id = module.kafka.security_group_id, port = 9092 }
    postgres = { security_group_id = module.postgres.security_group_id, port = 5432 }
    search   = { security_group_id = module.search.security_group_id, port = 443 }
  }
  public_subnet_ids            = module.network.public_subnet_ids
  private_subnet_ids           = module.network.private_subnet_ids
  domain_name                  = var.domain_name
  route53_zone_id              = var.route53_zone_id
  deletion_protection          = !var.allow_destroy
  kafka_brokers                = module.kafka.bootstrap_brokers
  read_store_url               = module.search.url
  read_store_domain_arn        = module.search.domain_arn
  database_secret_arn          = module.postgres.secret_arn
  database_service_secret_arns = module.postgres.service_secret_arns
  releases_bucket              = module.releases.bucket
  releases_bucket_arn          = module.releases.bucket_arn
  kms_key_arn                  = aws_kms_key.this.arn
  log_group_name               = aws_cloudwatch_log_group.journal.name
  log_group_arn                = aws_cloudwatch_log_group.journal.arn
  access_log_bucket            = local.access_log_bucket
  alarm_topic_arn              = aws_sns_topic.alarms.arn
  runbook_base_url             = var.runbook_base_url
  session_log_group_arn        = local.session_log_group_arn
  log_retention_days           = var.log_retention_days
  # The services' principals on the brokers (SASL_SSL unless kafka_secure is off).
  kafka_security_protocol  = module.kafka.security_protocol
  kafka_clients_secret_arn = module.kafka.clients_secret_arn
  kafka_ca_parameter       = module.kafka.ca_certificate_parameter
  kafka_ca_parameter_arn   = module.kafka.ca_certificate_parameter_arn
}
