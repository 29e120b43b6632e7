# Kafka 3.9.x brokers on instance-store NVMe SSDs, one per AZ round-robin,
# with fixed private addresses (advertised.listeners is rendered at plan
# time). The cluster policy (replication factor 3, min.insync.replicas 2,
# no unclean election, no auto-created topics, rack = AZ) comes from
# terraform/templates/server.properties.tftpl; the broker id comes from the
# OwpNodeId tag at boot, so a replaced broker keeps its id.

data "aws_region" "current" {}

locals {
  port = 9092

  brokers = [
    for i in range(var.broker_count) : {
      id        = i + 1
      subnet_id = var.subnet_ids[i % length(var.subnet_ids)]
      az        = var.azs[i % length(var.subnet_ids)]
      ip        = cidrhost(var.subnet_cidrs[i % length(var.subnet_ids)], var.host_number + floor(i / length(var.subnet_ids)))
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
    })
  ]
}

resource "aws_security_group" "this" {
  name        = "${var.name}-kafka"
  description = "OWP Kafka brokers: clients from the app instances, replication between brokers"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-kafka" }
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

resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.this.id
  description       = "HTTPS to AWS APIs and package mirrors"
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
}

resource "aws_iam_role_policy" "logs" {
  name   = "ship-journal"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.logs.json
}

resource "aws_iam_instance_profile" "this" {
  name = "${var.name}-kafka"
  role = aws_iam_role.this.name
}

resource "aws_instance" "broker" {
  count = var.broker_count

  ami                    = var.ami_id
  instance_type          = var.instance_type
  subnet_id              = local.brokers[count.index].subnet_id
  private_ip             = local.brokers[count.index].ip
  vpc_security_group_ids = [aws_security_group.this.id]
  iam_instance_profile   = aws_iam_instance_profile.this.name
  monitoring             = true
  ebs_optimized          = true
  user_data_base64 = base64gzip(templatefile("${path.module}/../../templates/kafka-user-data.sh.tftpl", {
    region            = data.aws_region.current.name
    log_group         = var.log_group_name
    server_properties = local.server_properties[count.index]
    cluster_id        = var.kafka_cluster_id
    heap              = var.heap
  }))
  # Brokers are rolled one at a time by hand (-replace), never all at once.
  user_data_replace_on_change = false

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "enabled"
  }

  # Partition data lives on the instance-store NVMe disks (encrypted by the
  # hardware with a per-instance key); the root volume holds the OS.
  root_block_device {
    volume_type = "gp3"
    volume_size = 20
    encrypted   = true
    kms_key_id  = var.kms_key_arn
  }

  tags = {
    Name      = "${var.name}-kafka-${local.brokers[count.index].id}"
    Role      = "kafka-broker"
    OwpNodeId = tostring(local.brokers[count.index].id)
  }
}
