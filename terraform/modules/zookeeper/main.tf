# The dedicated metadata nodes of Kafka: a ZooKeeper 3.8 ensemble of 3 or 5
# nodes, or, with metadata_mode = "kraft", Kafka KRaft controllers on the
# same nodes. Every node has a fixed private address (computed from its
# subnet) so zoo.cfg and controller.quorum.voters can be rendered before any
# instance exists. No SSH: nothing listens but the ensemble's own ports.

data "aws_region" "current" {}

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
      ip            = cidrhost(var.subnet_cidrs[i % length(var.subnet_ids)], var.host_number + floor(i / length(var.subnet_ids)))
    }
  ]

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
      region        = data.aws_region.current.name
      log_group     = var.log_group_name
      metadata_mode = var.metadata_mode
      heap          = var.heap
      myid          = n.myid
      cluster_id    = var.kafka_cluster_id
      zookeeper_cfg = local.zookeeper_cfg
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

resource "aws_instance" "node" {
  count = var.node_count

  ami                     = var.ami_id
  instance_type           = var.instance_type
  subnet_id               = local.nodes[count.index].subnet_id
  private_ip              = local.nodes[count.index].ip
  vpc_security_group_ids  = [aws_security_group.this.id]
  iam_instance_profile    = aws_iam_instance_profile.this.name
  user_data_base64        = base64gzip(local.user_data[count.index])
  monitoring              = true
  ebs_optimized           = true
  disable_api_termination = false

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "enabled"
  }

  root_block_device {
    volume_type = "gp3"
    volume_size = 16
    encrypted   = true
    kms_key_id  = var.kms_key_arn
  }

  # dataLogDir: its own disk (owp-zookeeper-disk.service mounts /dev/sdf).
  ebs_block_device {
    device_name           = "/dev/sdf"
    volume_type           = "gp3"
    volume_size           = var.txlog_volume_size_gb
    encrypted             = true
    kms_key_id            = var.kms_key_arn
    delete_on_termination = true
  }

  tags = {
    Name = "${var.name}-${var.metadata_mode == "zookeeper" ? "zk" : "controller"}-${count.index + 1}"
    Role = var.metadata_mode == "zookeeper" ? "zookeeper" : "kafka-controller"
    # Read by owp-kafka-node through IMDS when the node runs as a KRaft
    # controller; stable across instance replacement.
    OwpNodeId = tostring(local.nodes[count.index].controller_id)
  }

  # User data runs at first boot only. A configuration change is rolled one
  # node at a time (terraform apply -replace=...) so the ensemble keeps its
  # quorum; replacing every node in one apply would not.
  user_data_replace_on_change = false
}
