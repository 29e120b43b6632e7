# The dedicated metadata nodes of Kafka: a ZooKeeper 3.8 ensemble of 3 or 5
# nodes, or, with metadata_mode = "kraft", Kafka KRaft controllers on the
# same nodes. Every node has a fixed private address from its subnet's
# reserved range, on a network interface of its own, so zoo.cfg and
# controller.quorum.voters can be rendered before any instance exists and
# stay true across replacements. What a node knows lives on gp3 volumes of
# its own (ZooKeeper's transaction log, its snapshots and myid, the KRaft
# metadata log) that survive the instance and are re-attached to its
# successor; in staging and prod they carry prevent_destroy. A new AMI or new
# user data never replaces a node by itself (ignore_changes): nodes are
# rolled one at a time (terraform/env <env> roll zookeeper). No SSH: Session
# Manager is the way on.

data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  client_port     = 2181
  peer_port       = 2888
  election_port   = 3888
  controller_port = 9093
  # KRaft node ids must not collide with broker ids (1..N) during a
  # ZooKeeper-to-KRaft migration, hence the 3000 offset.
  controller_id_base = 3000

  nodes = [
    for i in range(var.node_count) : {
      index         = i
      myid          = i + 1
      controller_id = local.controller_id_base + i + 1
      subnet_id     = var.subnet_ids[i % length(var.subnet_ids)]
      az            = var.azs[i % length(var.subnet_ids)]
      ip            = cidrhost(var.static_cidrs[i % length(var.subnet_ids)], var.address_offset + floor(i / length(var.subnet_ids)))
      ami_id        = lookup(var.pinned_ami_ids, tostring(i + 1), var.ami_id)
    }
  ]

  # The volumes of every node, keyed "<myid>-<disk>": ZooKeeper's
  # transaction log and its data directory (snapshots, myid) on separate
  # volumes so snapshots never compete with the log's fsyncs, and the KRaft
  # metadata log for when the node runs as a controller.
  disks = {
    txlog    = { device = "/dev/sdf", size = var.txlog_volume_size_gb }
    data     = { device = "/dev/sdg", size = var.data_volume_size_gb }
    metadata = { device = "/dev/sdh", size = var.data_volume_size_gb }
  }
  volumes = {
    for pair in setproduct(local.nodes, keys(local.disks)) : "${pair[0].myid}-${pair[1]}" => {
      node   = pair[0]
      disk   = pair[1]
      device = local.disks[pair[1]].device
      size   = local.disks[pair[1]].size
    }
  }

  node_tags = [
    for n in local.nodes : {
      Name = "${var.name}-${var.metadata_mode == "zookeeper" ? "zk" : "controller"}-${n.myid}"
      Role = var.metadata_mode == "zookeeper" ? "zookeeper" : "kafka-controller"
      # Read by owp-kafka-node through IMDS when the node runs as a KRaft
      # controller; stable across instance replacement.
      OwpNodeId = tostring(n.controller_id)
    }
  ]

  # Exactly one of each pair below has instances (prevent_destroy cannot
  # depend on a variable); these are the ones in use.
  eni_ids    = concat(aws_network_interface.protected[*].id, aws_network_interface.disposable[*].id)
  volume_ids = merge({ for k, v in aws_ebs_volume.protected : k => v.id }, { for k, v in aws_ebs_volume.disposable : k => v.id })

  zookeeper_connect        = join(",", [for n in local.nodes : "${n.ip}:${local.client_port}"])
  controller_quorum_voters = join(",", [for n in local.nodes : "${n.controller_id}@${n.ip}:${local.controller_port}"])

  zookeeper_cfg = templatefile("${path.module}/../../templates/zookeeper.cfg.tftpl", {
    data_dir       = "/var/lib/zookeeper/data"
    data_log_dir   = "/var/lib/zookeeper/txlog"
    client_port    = local.client_port
    client_address = "0.0.0.0"
    servers = [
      for n in local.nodes : {
        id            = n.myid
        host          = n.ip
        peer_port     = local.peer_port
        election_port = local.election_port
      }
    ]
  })

  user_data = [
    for n in local.nodes : templatefile("${path.module}/../../templates/zookeeper-user-data.sh.tftpl", {
      region            = data.aws_region.current.name
      log_group         = var.log_group_name
      metadata_mode     = var.metadata_mode
      heap              = var.heap
      myid              = n.myid
      cluster_id        = var.kafka_cluster_id
      data_device       = local.disks.metadata.device
      node_role         = var.metadata_mode == "zookeeper" ? "zookeeper" : "controller"
      metrics_namespace = var.metrics_namespace
      zookeeper_cfg     = local.zookeeper_cfg
      controller_properties = templatefile("${path.module}/../../templates/kafka-controller.properties.tftpl", {
        controller_quorum_voters = local.controller_quorum_voters
        listen_host              = n.ip
        controller_port          = local.controller_port
      })
    })
  ]
}

resource "aws_security_group" "this" {
  name        = "${var.name}-metadata"
  description = "OWP ${var.metadata_mode} nodes: ensemble traffic between members, clients from the Kafka brokers"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-metadata" }
}

resource "aws_vpc_security_group_ingress_rule" "peer" {
  for_each = {
    client     = local.client_port
    peer       = local.peer_port
    election   = local.election_port
    controller = local.controller_port
  }

  security_group_id            = aws_security_group.this.id
  description                  = "Ensemble member to member (${each.key})"
  referenced_security_group_id = aws_security_group.this.id
  ip_protocol                  = "tcp"
  from_port                    = each.value
  to_port                      = each.value
}

resource "aws_vpc_security_group_egress_rule" "peer" {
  security_group_id            = aws_security_group.this.id
  description                  = "Ensemble member to member"
  referenced_security_group_id = aws_security_group.this.id
  ip_protocol                  = "tcp"
  from_port                    = 2181
  to_port                      = 9093
}

# AWS APIs (CloudWatch Logs) and Debian security updates, through NAT.
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
  name               = "${var.name}-metadata"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

# The journal shipper is the only AWS client on these nodes.
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

resource "aws_iam_instance_profile" "this" {
  name = "${var.name}-metadata"
  role = aws_iam_role.this.name
}

# Session Manager: the only way onto a node (no SSH, no key pairs).
resource "aws_iam_role_policy_attachment" "ssm" {
  role       = aws_iam_role.this.name
  policy_arn = var.session_manager_policy_arn
}

# --- What a node keeps: its address and its disks ----------------------------------

resource "aws_network_interface" "protected" {
  count = var.protect_data ? var.node_count : 0

  subnet_id       = local.nodes[count.index].subnet_id
  private_ips     = [local.nodes[count.index].ip]
  security_groups = [aws_security_group.this.id]
  description     = "Address of metadata node ${local.nodes[count.index].myid}"
  tags            = local.node_tags[count.index]

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_network_interface" "disposable" {
  count = var.protect_data ? 0 : var.node_count

  subnet_id       = local.nodes[count.index].subnet_id
  private_ips     = [local.nodes[count.index].ip]
  security_groups = [aws_security_group.this.id]
  description     = "Address of metadata node ${local.nodes[count.index].myid}"
  tags            = local.node_tags[count.index]
}

resource "aws_ebs_volume" "protected" {
  # checkov:skip=CKV2_AWS_9:Every node holds the ensemble state, replicated to the other members; a snapshot of one node cannot be restored into a running quorum.
  for_each = var.protect_data ? local.volumes : {}

  availability_zone = each.value.node.az
  type              = "gp3"
  size              = each.value.size
  encrypted         = true
  kms_key_id        = var.kms_key_arn
  tags              = merge(local.node_tags[each.value.node.index], { Name = "${var.name}-metadata-${each.key}", Disk = each.value.disk })

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_ebs_volume" "disposable" {
  # checkov:skip=CKV2_AWS_9:Every node holds the ensemble state, replicated to the other members; a snapshot of one node cannot be restored into a running quorum.
  for_each = var.protect_data ? {} : local.volumes

  availability_zone = each.value.node.az
  type              = "gp3"
  size              = each.value.size
  encrypted         = true
  kms_key_id        = var.kms_key_arn
  tags              = merge(local.node_tags[each.value.node.index], { Name = "${var.name}-metadata-${each.key}", Disk = each.value.disk })
}

# --- The disposable part: the instance --------------------------------------------

resource "aws_instance" "node" {
  count = var.node_count

  ami                         = local.nodes[count.index].ami_id
  instance_type               = var.instance_type
  iam_instance_profile        = aws_iam_instance_profile.this.name
  user_data_base64            = base64gzip(local.user_data[count.index])
  user_data_replace_on_change = false
  monitoring                  = true
  ebs_optimized               = true
  disable_api_termination     = false

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

  # The OS only; everything the node knows is on its volumes.
  root_block_device {
    volume_type = "gp3"
    volume_size = 16
    encrypted   = true
    kms_key_id  = var.kms_key_arn
  }

  tags = local.node_tags[count.index]

  lifecycle {
    # A new image or configuration reaches a node when it is rolled, one
    # node at a time so the ensemble keeps its quorum; replacing every node
    # in one apply would not, and changing user data in place would stop
    # and start the instance.
    ignore_changes = [ami, user_data, user_data_base64]
  }
}

resource "aws_volume_attachment" "disk" {
  for_each = local.volumes

  device_name = each.value.device
  volume_id   = local.volume_ids[each.key]
  instance_id = aws_instance.node[each.value.node.index].id
  # Stopped first, so ZooKeeper shuts down cleanly before its log leaves.
  stop_instance_before_detaching = true
}
