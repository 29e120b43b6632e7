# Kafka 3.9.x brokers, one per AZ round-robin. What makes a broker *that*
# broker outlives its instance: its log directory is a gp3 EBS volume and its
# address is a network interface, both tagged with its node id and both
# re-attached to whichever instance is the broker now. The instance itself is
# disposable and rolled one at a time (terraform/env <env> roll kafka): a new
# AMI or new user data never replaces or restarts a broker by itself
# (ignore_changes), and in staging and prod the volumes and interfaces carry
# prevent_destroy. The cluster policy (replication factor 3,
# min.insync.replicas 2, no unclean election, no auto-created topics, rack =
# AZ) comes from terraform/templates/server.properties.tftpl; the broker id
# comes from the OwpNodeId tag at boot.

data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  port = 9092

  brokers = [
    for i in range(var.broker_count) : {
      index     = i
      id        = i + 1
      subnet_id = var.subnet_ids[i % length(var.subnet_ids)]
      az        = var.azs[i % length(var.subnet_ids)]
      ip        = cidrhost(var.static_cidrs[i % length(var.subnet_ids)], var.address_offset + floor(i / length(var.subnet_ids)))
      ami_id    = lookup(var.pinned_ami_ids, tostring(i + 1), var.ami_id)
    }
  ]

  bootstrap_brokers = join(",", [for b in local.brokers : "${b.ip}:${local.port}"])

  server_properties = [
    for b in local.brokers : templatefile("${path.module}/../../templates/server.properties.tftpl", {
      metadata_mode            = var.metadata_mode
      zookeeper_connect        = "${var.zookeeper_connect}${var.zookeeper_chroot}"
      controller_quorum_voters = var.controller_quorum_voters
      port                     = local.port
      listen_host              = "0.0.0.0"
      advertised_host          = b.ip
      rack                     = b.az
      replication_factor       = var.replication_factor
      min_insync_replicas      = var.min_insync_replicas
      num_partitions           = var.num_partitions
      secure                   = var.secure
      broker_user              = local.broker_user
      tls_dir                  = local.tls_dir
    })
  ]

  user_data = [
    for b in local.brokers : base64gzip(templatefile("${path.module}/../../templates/kafka-user-data.sh.tftpl", {
      region            = data.aws_region.current.name
      log_group         = var.log_group_name
      server_properties = local.server_properties[b.index]
      cluster_id        = var.kafka_cluster_id
      heap              = var.heap
      data_device       = var.data_device_name
      metrics_namespace = var.metrics_namespace
      secure            = var.secure
      broker_ip         = b.ip
      port              = local.port
      zookeeper_connect = "${var.zookeeper_connect}${var.zookeeper_chroot}"
      tls_dir           = local.tls_dir
      broker_user       = local.broker_user
      users_secret      = var.secure ? aws_secretsmanager_secret.kafka_users[0].arn : ""
      ca_secret         = var.secure ? aws_secretsmanager_secret.kafka_ca[0].arn : ""
      ca_version_token  = local.ca_version_token
      ca_parameter      = var.secure ? aws_ssm_parameter.kafka_ca_certificate[0].name : ""
      acls              = local.acls
    }))
  ]

  # Exactly one of each pair below has instances (prevent_destroy cannot
  # depend on a variable); these lists are the ones in use, by broker index.
  eni_ids    = concat(aws_network_interface.protected[*].id, aws_network_interface.disposable[*].id)
  volume_ids = concat(aws_ebs_volume.protected[*].id, aws_ebs_volume.disposable[*].id)

  node_tags = [
    for b in local.brokers : {
      Name      = "${var.name}-kafka-${b.id}"
      Role      = "kafka-broker"
      OwpNodeId = tostring(b.id)
    }
  ]
}

resource "aws_security_group" "this" {
  name        = "${var.name}-kafka"
  description = "OWP Kafka brokers: clients from the app instances, replication between brokers"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-kafka" }

  lifecycle {
    precondition {
      # KRaft keeps SCRAM users in the metadata log (kafka-storage format
      # --add-scram) and authorizes with StandardAuthorizer; the brokers'
      # first boot does neither yet.
      condition     = !var.secure || var.metadata_mode == "zookeeper"
      error_message = "secure (SASL_SSL with ACLs) needs metadata_mode = \"zookeeper\" for now."
    }
  }
}

resource "aws_vpc_security_group_ingress_rule" "replication" {
  security_group_id            = aws_security_group.this.id
  description                  = "Broker to broker replication"
  referenced_security_group_id = aws_security_group.this.id
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
}

resource "aws_vpc_security_group_ingress_rule" "clients" {
  # count, not for_each: the ids are unknown until the groups exist.
  count = length(var.client_security_group_ids)

  security_group_id            = aws_security_group.this.id
  description                  = "Producers and consumers"
  referenced_security_group_id = var.client_security_group_ids[count.index]
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
}

resource "aws_vpc_security_group_egress_rule" "replication" {
  security_group_id            = aws_security_group.this.id
  description                  = "Broker to broker replication"
  referenced_security_group_id = aws_security_group.this.id
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
}

resource "aws_vpc_security_group_egress_rule" "metadata" {
  for_each = toset([for p in var.metadata_client_ports : tostring(p)])

  security_group_id            = aws_security_group.this.id
  description                  = "Brokers to the metadata nodes"
  referenced_security_group_id = var.metadata_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = tonumber(each.value)
  to_port                      = tonumber(each.value)
}

resource "aws_vpc_security_group_ingress_rule" "metadata" {
  for_each = toset([for p in var.metadata_client_ports : tostring(p)])

  security_group_id            = var.metadata_security_group_id
  description                  = "Kafka brokers as metadata clients"
  referenced_security_group_id = aws_security_group.this.id
  ip_protocol                  = "tcp"
  from_port                    = tonumber(each.value)
  to_port                      = tonumber(each.value)
}

# The ZooKeeper-to-KRaft migration: while it runs, the KRaft controllers on
# the metadata nodes send metadata to the ZooKeeper-mode brokers on their
# broker listener (runbooks/migrate-zookeeper-to-kraft.md). In KRaft mode the
# active controller needs no such path, but it does no harm.
resource "aws_vpc_security_group_ingress_rule" "controllers" {
  security_group_id            = aws_security_group.this.id
  description                  = "KRaft controllers to brokers (ZooKeeper migration)"
  referenced_security_group_id = var.metadata_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
}

resource "aws_vpc_security_group_egress_rule" "controllers" {
  security_group_id            = var.metadata_security_group_id
  description                  = "KRaft controllers to brokers (ZooKeeper migration)"
  referenced_security_group_id = aws_security_group.this.id
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
}

resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.this.id
  description       = "HTTPS to AWS APIs (Session Manager, logs) and package mirrors"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.name}-kafka"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "logs" {
  statement {
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
  # owp-node-metrics: its own namespace only (PutMetricData has no
  # resource-level scoping; the namespace condition is the scope).
  statement {
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [var.metrics_namespace]
    }
  }
}

resource "aws_iam_role_policy" "logs" {
  name   = "ship-journal"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.logs.json
}

# Session Manager: the only way onto a broker (no SSH, no key pairs).
resource "aws_iam_role_policy_attachment" "ssm" {
  role       = aws_iam_role.this.name
  policy_arn = var.session_manager_policy_arn
}

resource "aws_iam_instance_profile" "this" {
  name = "${var.name}-kafka"
  role = aws_iam_role.this.name
}

# --- What a broker keeps: its address and its log --------------------------------

resource "aws_network_interface" "protected" {
  count = var.protect_data ? var.broker_count : 0

  subnet_id       = local.brokers[count.index].subnet_id
  private_ips     = [local.brokers[count.index].ip]
  security_groups = [aws_security_group.this.id]
  description     = "Address of Kafka broker ${local.brokers[count.index].id}"
  tags            = local.node_tags[count.index]

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_network_interface" "disposable" {
  count = var.protect_data ? 0 : var.broker_count

  subnet_id       = local.brokers[count.index].subnet_id
  private_ips     = [local.brokers[count.index].ip]
  security_groups = [aws_security_group.this.id]
  description     = "Address of Kafka broker ${local.brokers[count.index].id}"
  tags            = local.node_tags[count.index]
}

resource "aws_ebs_volume" "protected" {
  # checkov:skip=CKV2_AWS_9:A broker log is replicated to two other AZs and the log of record is owp.events.v1 itself; a snapshot of one broker is neither consistent nor needed.
  count = var.protect_data ? var.broker_count : 0

  availability_zone = local.brokers[count.index].az
  type              = "gp3"
  size              = var.data_volume_size_gb
  iops              = var.data_volume_iops
  throughput        = var.data_volume_throughput
  encrypted         = true
  kms_key_id        = var.kms_key_arn
  tags              = merge(local.node_tags[count.index], { Name = "${var.name}-kafka-${local.brokers[count.index].id}-data" })

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_ebs_volume" "disposable" {
  # checkov:skip=CKV2_AWS_9:A broker log is replicated to two other AZs and the log of record is owp.events.v1 itself; a snapshot of one broker is neither consistent nor needed.
  count = var.protect_data ? 0 : var.broker_count

  availability_zone = local.brokers[count.index].az
  type              = "gp3"
  size              = var.data_volume_size_gb
  iops              = var.data_volume_iops
  throughput        = var.data_volume_throughput
  encrypted         = true
  kms_key_id        = var.kms_key_arn
  tags              = merge(local.node_tags[count.index], { Name = "${var.name}-kafka-${local.brokers[count.index].id}-data" })
}

# --- The disposable part: the instance --------------------------------------------

resource "aws_instance" "broker" {
  count = var.broker_count

  ami                         = local.brokers[count.index].ami_id
  instance_type               = var.instance_type
  iam_instance_profile        = aws_iam_instance_profile.this.name
  monitoring                  = true
  ebs_optimized               = true
  user_data_base64            = local.user_data[count.index]
  user_data_replace_on_change = false

  # The broker's address: its own interface, which stays when the instance goes.
  network_interface {
    network_interface_id = local.eni_ids[count.index]
    device_index         = 0
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "enabled"
  }

  # The OS only; the partitions live on the data volume.
  root_block_device {
    volume_type = "gp3"
    volume_size = 20
    encrypted   = true
    kms_key_id  = var.kms_key_arn
  }

  tags = local.node_tags[count.index]

  lifecycle {
    # A new image or new user data applies when the broker is rolled
    # (terraform/env <env> roll kafka), one broker at a time after the one
    # before is back in sync; never to every broker in one apply. Changing
    # user data in place would also stop and start the instance.
    ignore_changes = [ami, user_data, user_data_base64]
  }
}

resource "aws_volume_attachment" "data" {
  count = var.broker_count

  device_name = var.data_device_name
  volume_id   = local.volume_ids[count.index]
  instance_id = aws_instance.broker[count.index].id
  # The instance is stopped (Kafka shuts down cleanly) before the volume
  # leaves it, so a roll never detaches a log that is being written.
  stop_instance_before_detaching = true
}
