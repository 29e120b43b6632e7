# The app fleet: instances from the app AMI in an Auto Scaling group behind
# an HTTPS ALB (with WAF), one target group per HTTP service, tuned for fast
# deploys (10 s deregistration delay, 5 s health checks on /readyz, healthy
# after 2). The deployer on each instance deregisters and registers itself
# around a release swap; its settings come from user data. Least-privilege
# instance role. Alarms link to their runbooks.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  services = {
    writepoint = { port = 8080, short = "wp" }
    readpoint  = { port = 8081, short = "rp" }
    auth       = { port = 8082, short = "au" }
  }

  runbook = {
    for key, file in {
      write_point_503 = "write-point-503.md"
      deploy_stuck    = "deploy-stuck-or-lease-held.md"
      consumer_lag    = "consumer-lag-growing.md"
      rollback        = "roll-back-a-release.md"
    } : key => trimprefix("${var.runbook_base_url}/runbooks/${file}", "/")
  }

  # Named here, not read from the group: the launch template's user data
  # carries it, and the group depends on the launch template.
  autoscaling_group_name = "${var.name}-app"
  launch_hook            = "owp-release-installed"

  user_data = templatefile("${path.module}/../../templates/app-user-data.sh.tftpl", {
    region                   = data.aws_region.current.name
    environment              = var.environment
    topic_replication        = var.topic_replication
    autoscaling_group        = local.autoscaling_group_name
    launch_hook              = local.launch_hook
    kafka_brokers            = var.kafka_brokers
    read_store               = var.read_store_url
    database_secret_arn      = var.database_secret_arn
    database_service_secrets = join(",", [for role, arn in var.database_service_secret_arns : "${role}=${arn}"])
    writepoint_port          = local.services.writepoint.port
    readpoint_port           = local.services.readpoint.port
    auth_port                = local.services.auth.port
    releases_bucket          = var.releases_bucket
    target_group_arns        = join(",", [for k in keys(local.services) : aws_lb_target_group.this[k].arn])
    log_group                = var.log_group_name
    kafka_protocol           = var.kafka_security_protocol
    kafka_clients            = var.kafka_clients_secret_arn
    kafka_ca_parameter       = var.kafka_ca_parameter
  })
}

# --- Security groups ---------------------------------------------------------

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "OWP ALB: HTTPS from the internet, to the app instances"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-alb" }
}

# The only ingress from the internet in the whole environment.
resource "aws_vpc_security_group_ingress_rule" "alb_https_ipv4" {
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from anywhere (IPv4)"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "alb_to_app" {
  for_each = local.services

  security_group_id            = aws_security_group.alb.id
  description                  = "ALB to ${each.key}"
  referenced_security_group_id = aws_security_group.app.id
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
}

resource "aws_security_group" "app" {
  name        = "${var.name}-app"
  description = "OWP app instances: service ports from the ALB only"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-app" }
}

resource "aws_vpc_security_group_ingress_rule" "app_from_alb" {
  for_each = local.services

  security_group_id            = aws_security_group.app.id
  description                  = "${each.key} from the ALB"
  referenced_security_group_id = aws_security_group.alb.id
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
}

resource "aws_vpc_security_group_egress_rule" "app_https" {
  security_group_id = aws_security_group.app.id
  description       = "HTTPS: AWS APIs, S3, the read store"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

# The data path's stores, each by its own security group and port only
# (Kafka 9092, PostgreSQL 5432, the read store 443); the store's module
# opens the other side for this group.
resource "aws_vpc_security_group_egress_rule" "app_to_stores" {
  for_each = var.store_endpoints

  security_group_id            = aws_security_group.app.id
  description                  = "To ${each.key}"
  referenced_security_group_id = each.value.security_group_id
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
}

# --- Instance role (least privilege) --------------------------------------------

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "app" {
  name               = "${var.name}-app"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "app" {
  statement {
    sid       = "ReadReleases"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${var.releases_bucket_arn}/releases/*"]
  }
  statement {
    sid       = "HoldTheFleetLease"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${var.releases_bucket_arn}/leases/${var.environment}/*"]
  }
  statement {
    sid       = "ListReleasesAndLeases"
    actions   = ["s3:ListBucket"]
    resources = [var.releases_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["releases/*", "leases/${var.environment}/*"]
    }
  }
  statement {
    sid       = "RegisterWithTheLoadBalancer"
    actions   = ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"]
    resources = [for tg in aws_lb_target_group.this : tg.arn]
  }
  statement {
    sid       = "ReadTargetHealth"
    actions   = ["elasticloadbalancing:DescribeTargetHealth"]
    resources = ["*"] # Describe* actions support no resource-level scoping.
  }
  statement {
    sid       = "DatabaseSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = concat([var.database_secret_arn], values(var.database_service_secret_arns))
  }
  # The services' Kafka credentials and the brokers' CA certificate, rendered
  # by owp-database-env like the database URL (secure brokers only).
  dynamic "statement" {
    for_each = var.kafka_clients_secret_arn == "" ? [] : [1]
    content {
      sid       = "KafkaCredentials"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [var.kafka_clients_secret_arn]
    }
  }
  dynamic "statement" {
    for_each = var.kafka_ca_parameter_arn == "" ? [] : [1]
    content {
      sid       = "KafkaCaCertificate"
      actions   = ["ssm:GetParameter"]
      resources = [var.kafka_ca_parameter_arn]
    }
  }
  statement {
    sid       = "EnvironmentKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
  statement {
    sid       = "ShipJournal"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${var.log_group_arn}:*"]
  }
  # Session Manager writes each session's transcript to the account's log
  # group (terraform/bootstrap) and checks that it is encrypted.
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${var.session_log_group_arn}:*"]
  }
  statement {
    actions   = ["logs:DescribeLogGroups"]
    resources = ["${regex("^(arn:[^:]+:logs:[^:]+:[0-9]+:)", var.session_log_group_arn)[0]}log-group:*"]
  }
  # owp-search-signer signs the services' read-store requests with this role.
  statement {
    sid       = "ReadStore"
    actions   = ["es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut", "es:ESHttpDelete", "es:ESHttpPatch"]
    resources = ["${var.read_store_domain_arn}/*"]
  }
  # owp-launch-gate puts its own instance in service (or gives it up).
  statement {
    sid       = "CompleteTheLaunchHook"
    actions   = ["autoscaling:CompleteLifecycleAction"]
    resources = ["arn:${data.aws_partition.current.partition}:autoscaling:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:autoScalingGroup:*:autoScalingGroupName/${local.autoscaling_group_name}"]
  }
}

# Session Manager: the only way onto an instance (no SSH, no key pairs).
resource "aws_iam_role_policy_attachment" "ssm" {
  role       = aws_iam_role.app.name
  policy_arn = var.session_manager_policy_arn
}

resource "aws_iam_role_policy" "app" {
  name   = "owp-app"
  role   = aws_iam_role.app.id
  policy = data.aws_iam_policy_document.app.json
}

resource "aws_iam_instance_profile" "app" {
  name = "${var.name}-app"
  role = aws_iam_role.app.name
}

# --- Instances -------------------------------------------------------------------

resource "aws_launch_template" "app" {
  name_prefix            = "${var.name}-app-"
  image_id               = var.ami_id
  instance_type          = var.instance_type
  vpc_security_group_ids = [aws_security_group.app.id]
  user_data              = base64gzip(local.user_data)
  ebs_optimized          = true

  iam_instance_profile {
    arn = aws_iam_instance_profile.app.arn
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "enabled"
  }

  monitoring {
    enabled = true
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_type           = "gp3"
      volume_size           = 16
      encrypted             = true
      kms_key_id            = var.kms_key_arn
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = { Name = "${var.name}-app", Role = "app" }
  }

  tag_specifications {
    resource_type = "volume"
    tags          = { Name = "${var.name}-app" }
  }
}

resource "aws_autoscaling_group" "app" {
  name                = local.autoscaling_group_name
  min_size            = var.min_size
  max_size            = var.max_size
  vpc_zone_identifier = var.private_subnet_ids
  target_group_arns   = [for tg in aws_lb_target_group.this : tg.arn]
  # EC2 health only: the deployer deregisters an instance on purpose during
  # a deploy, and an ELB health check would have the group replace it.
  health_check_type         = "EC2"
  health_check_grace_period = 120
  # An instance enters service only when owp-launch-gate says so, which on a
  # new environment waits for the database and brokers Terraform is still
  # creating: Terraform does not wait for it (the smoke test is the gate).
  wait_for_capacity_timeout = "0"

  launch_template {
    id      = aws_launch_template.app.id
    version = aws_launch_template.app.latest_version
  }

  # A new instance stays in Pending:Wait, out of every target group, until
  # owp-launch-gate has seen the deployer install the current release and
  # completes this hook; one that cannot is abandoned and replaced. The
  # heartbeat is above the gate's own deadline (owp-launch-gate.service).
  initial_lifecycle_hook {
    name                 = local.launch_hook
    lifecycle_transition = "autoscaling:EC2_INSTANCE_LAUNCHING"
    heartbeat_timeout    = 1800
    default_result       = "ABANDON"
  }

  # A new AMI or user data rolls the fleet, a third at a time; instance
  # refresh waits for each new instance's launch hook.
  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 66
    }
  }

  tag {
    key                 = "Name"
    value               = "${var.name}-app"
    propagate_at_launch = true
  }
}
