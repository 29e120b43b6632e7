# Alarms of the metadata nodes; every description ends with its runbook link.
# Quorum metrics come from owp-node-metrics on each node (namespace
# var.metrics_namespace, dimension Cluster=zookeeper, one datapoint per node
# per minute, so the minute's Sum counts nodes); the status checks from EC2.
# In KRaft mode the controllers report ActiveControllerCount with the
# brokers (modules/kafka's active-controllers alarm) instead.

locals {
  runbook = {
    for key, file in {
      node = "replace-a-zookeeper-node.md"
    } : key => trimprefix("${var.runbook_base_url}/runbooks/${file}", "/")
  }
  zookeeper_alarms   = var.metadata_mode == "zookeeper" ? 1 : 0
  cluster_dimensions = { Cluster = var.metadata_mode == "zookeeper" ? "zookeeper" : "kafka" }
  majority           = floor(var.node_count / 2) + 1
}

# Exactly one leader among the members, as the members themselves say.
resource "aws_cloudwatch_metric_alarm" "quorum" {
  count = local.zookeeper_alarms

  alarm_name          = "${var.name}-zookeeper-quorum"
  alarm_description   = "The ZooKeeper ensemble has not had exactly one leader for 3 minutes: no quorum, so Kafka cannot elect leaders or change ISRs. Runbook: ${local.runbook.node}"
  evaluation_periods  = 3
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]

  metric_query {
    id          = "off_by"
    expression  = "ABS(leaders - 1)"
    label       = "ZooKeeper leaders minus one"
    return_data = true
  }
  metric_query {
    id = "leaders"
    metric {
      namespace   = var.metrics_namespace
      metric_name = "ZooKeeperLeader"
      dimensions  = local.cluster_dimensions
      stat        = "Sum"
      period      = 60
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "member_down" {
  count = local.zookeeper_alarms

  alarm_name          = "${var.name}-zookeeper-member-down"
  alarm_description   = "Fewer than ${var.node_count} ZooKeeper members have served for 5 minutes (quorum holds while ${local.majority} do; one more loss may end it). Runbook: ${local.runbook.node}"
  namespace           = var.metrics_namespace
  metric_name         = "ZooKeeperServing"
  dimensions          = local.cluster_dimensions
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.node_count
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "disk" {
  alarm_name          = "${var.name}-metadata-disk"
  alarm_description   = "A metadata node's volume is more than ${var.disk_alarm_percent}% full (ZooKeeper stops when its log cannot grow). Runbook: ${local.runbook.node}"
  namespace           = var.metrics_namespace
  metric_name         = "DataVolumeUsedPercent"
  dimensions          = local.cluster_dimensions
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  threshold           = var.disk_alarm_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "status_system" {
  count = var.node_count

  alarm_name          = "${var.name}-metadata-${local.nodes[count.index].myid}-system-check"
  alarm_description   = "Metadata node ${local.nodes[count.index].myid}'s host failed its system status check; EC2 recovers the instance onto healthy hardware. Runbook: ${local.runbook.node}"
  namespace           = "AWS/EC2"
  metric_name         = "StatusCheckFailed_System"
  dimensions          = { InstanceId = aws_instance.node[count.index].id }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 2
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  alarm_actions       = ["arn:${data.aws_partition.current.partition}:automate:${data.aws_region.current.name}:ec2:recover", var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "status_instance" {
  count = var.node_count

  alarm_name          = "${var.name}-metadata-${local.nodes[count.index].myid}-instance-check"
  alarm_description   = "Metadata node ${local.nodes[count.index].myid}'s instance failed its status check for 5 minutes. Runbook: ${local.runbook.node}"
  namespace           = "AWS/EC2"
  metric_name         = "StatusCheckFailed_Instance"
  dimensions          = { InstanceId = aws_instance.node[count.index].id }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}
