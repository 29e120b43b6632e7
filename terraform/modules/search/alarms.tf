# Alarms of the read store; every description ends with its runbook link.

locals {
  runbook = {
    for key, file in {
      cluster = "read-store-cluster-status.md"
    } : key => trimprefix("${var.runbook_base_url}/runbooks/${file}", "/")
  }
  domain_dimensions = { DomainName = aws_opensearch_domain.this.domain_name, ClientId = data.aws_caller_identity.current.account_id }
}

resource "aws_cloudwatch_metric_alarm" "red" {
  alarm_name          = "${var.name}-search-red"
  alarm_description   = "The read store is red: a primary shard is unassigned, so some collections cannot be read or written. Runbook: ${local.runbook.cluster}"
  namespace           = "AWS/ES"
  metric_name         = "ClusterStatus.red"
  dimensions          = local.domain_dimensions
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 2
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}

# A one-node domain (engineer environments) is yellow whenever an index
# asks for a replica; the alarm means something only with replicas possible.
resource "aws_cloudwatch_metric_alarm" "yellow" {
  count = var.instance_count > 1 ? 1 : 0

  alarm_name          = "${var.name}-search-yellow"
  alarm_description   = "The read store has been yellow for 15 minutes: replica shards are unassigned, one more node loss may lose data. Runbook: ${local.runbook.cluster}"
  namespace           = "AWS/ES"
  metric_name         = "ClusterStatus.yellow"
  dimensions          = local.domain_dimensions
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 3
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "writes_blocked" {
  alarm_name          = "${var.name}-search-writes-blocked"
  alarm_description   = "The read store blocks writes (disk watermark or memory pressure): the translator cannot update collections. Runbook: ${local.runbook.cluster}"
  namespace           = "AWS/ES"
  metric_name         = "ClusterIndexWritesBlocked"
  dimensions          = local.domain_dimensions
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 2
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "storage" {
  alarm_name          = "${var.name}-search-storage"
  alarm_description   = "A read store node has less than 20% of its volume free (OpenSearch blocks writes near 5%). Runbook: ${local.runbook.cluster}"
  namespace           = "AWS/ES"
  metric_name         = "FreeStorageSpace"
  dimensions          = local.domain_dimensions
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 2
  threshold           = var.volume_size_gb * 1024 * 0.2
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}
