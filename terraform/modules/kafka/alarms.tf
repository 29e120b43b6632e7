# Alarms of the brokers; every description ends with its runbook link. The
# cluster metrics come from owp-node-metrics on each broker (namespace
# var.metrics_namespace, dimension Cluster=kafka, one datapoint per broker
# per minute); the status checks from EC2.

locals {
  runbook = {
    for key, file in {
      cluster = "kafka-cluster-unhealthy.md"
      broker  = "replace-a-kafka-broker.md"
    } : key => trimprefix("${var.runbook_base_url}/runbooks/${file}", "/")
  }
  cluster_dimensions = { Cluster = "kafka" }
}

resource "aws_cloudwatch_metric_alarm" "under_replicated" {
  alarm_name          = "${var.name}-kafka-under-replicated"
  alarm_description   = "Partitions have had fewer in-sync replicas than replicas for 15 minutes (a broker down or behind; expected briefly during a roll). Runbook: ${local.runbook.cluster}"
  namespace           = var.metrics_namespace
  metric_name         = "UnderReplicatedPartitions"
  dimensions          = local.cluster_dimensions
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 15
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "under_min_isr" {
  alarm_name          = "${var.name}-kafka-under-min-isr"
  alarm_description   = "Partitions are below min.insync.replicas: writes to them fail now. Runbook: ${local.runbook.cluster}"
  namespace           = var.metrics_namespace
  metric_name         = "UnderMinIsrPartitionCount"
  dimensions          = local.cluster_dimensions
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 2
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "offline_partitions" {
  alarm_name          = "${var.name}-kafka-offline-partitions"
  alarm_description   = "Partitions have no leader: nothing can be written to or read from them. Runbook: ${local.runbook.cluster}"
  namespace           = var.metrics_namespace
  metric_name         = "OfflinePartitionsCount"
  dimensions          = local.cluster_dimensions
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}

# Exactly one active controller: every broker (and KRaft controller) reports
# 1 or 0 once a minute, so the minute's Sum is the number of controllers.
resource "aws_cloudwatch_metric_alarm" "active_controllers" {
  alarm_name          = "${var.name}-kafka-active-controllers"
  alarm_description   = "The cluster has not had exactly one active controller for 3 minutes (none: no leader elections, no topic changes; two: a split brain). Runbook: ${local.runbook.cluster}"
  evaluation_periods  = 3
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]

  metric_query {
    id          = "off_by"
    expression  = "ABS(controllers - 1)"
    label       = "Active controllers minus one"
    return_data = true
  }
  metric_query {
    id = "controllers"
    metric {
      namespace   = var.metrics_namespace
      metric_name = "ActiveControllerCount"
      dimensions  = local.cluster_dimensions
      stat        = "Sum"
      period      = 60
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "disk" {
  alarm_name          = "${var.name}-kafka-disk"
  alarm_description   = "A broker's data volume is more than ${var.disk_alarm_percent}% full. Runbook: ${local.runbook.cluster}"
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

# A failed host is recovered in place (same instance, address and volumes);
# a failed instance check pages.
resource "aws_cloudwatch_metric_alarm" "status_system" {
  count = var.broker_count

  alarm_name          = "${var.name}-kafka-${local.brokers[count.index].id}-system-check"
  alarm_description   = "Broker ${local.brokers[count.index].id}'s host failed its system status check; EC2 recovers the instance onto healthy hardware. Runbook: ${local.runbook.broker}"
  namespace           = "AWS/EC2"
  metric_name         = "StatusCheckFailed_System"
  dimensions          = { InstanceId = aws_instance.broker[count.index].id }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 2
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  alarm_actions       = ["arn:${data.aws_partition.current.partition}:automate:${data.aws_region.current.name}:ec2:recover", var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "status_instance" {
  count = var.broker_count

  alarm_name          = "${var.name}-kafka-${local.brokers[count.index].id}-instance-check"
  alarm_description   = "Broker ${local.brokers[count.index].id}'s instance failed its status check for 5 minutes. Runbook: ${local.runbook.broker}"
  namespace           = "AWS/EC2"
  metric_name         = "StatusCheckFailed_Instance"
  dimensions          = { InstanceId = aws_instance.broker[count.index].id }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}
