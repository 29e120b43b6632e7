# Alarms of the database; every description ends with its runbook link.

locals {
  runbook = {
    for key, file in {
      database = "rds-storage-cpu-or-lag.md"
    } : key => trimprefix("${var.runbook_base_url}/runbooks/${file}", "/")
  }
  db_dimensions = { DBInstanceIdentifier = aws_db_instance.this.identifier }
}

resource "aws_cloudwatch_metric_alarm" "storage" {
  alarm_name          = "${var.name}-rds-storage"
  alarm_description   = "The database has less than 10% of its storage free for 10 minutes (storage autoscaling stops at ${var.max_allocated_storage_gb} GB). Runbook: ${local.runbook.database}"
  namespace           = "AWS/RDS"
  metric_name         = "FreeStorageSpace"
  dimensions          = local.db_dimensions
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 2
  threshold           = var.allocated_storage_gb * 0.1 * 1073741824
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "cpu" {
  alarm_name          = "${var.name}-rds-cpu"
  alarm_description   = "The database CPU has been above 80% for 15 minutes. Runbook: ${local.runbook.database}"
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  dimensions          = local.db_dimensions
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  threshold           = 80
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}

# Reported by read replicas of this instance (none today: one created for a
# migration or a reporting job shows here as soon as it lags).
resource "aws_cloudwatch_metric_alarm" "replica_lag" {
  alarm_name          = "${var.name}-rds-replica-lag"
  alarm_description   = "A replica of the database has been more than 60 seconds behind for 5 minutes. Runbook: ${local.runbook.database}"
  namespace           = "AWS/RDS"
  metric_name         = "ReplicaLag"
  dimensions          = local.db_dimensions
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = 60
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}
