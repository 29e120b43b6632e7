# Alarms of the app fleet; every description ends with its runbook link.

# --- Alarms ------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "alb_5xx" {
  alarm_name          = "${var.name}-alb-5xx"
  alarm_description   = "The ALB answers 5xx (no healthy target or failing services). Runbook: ${local.runbook.write_point_503}"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_ELB_5XX_Count"
  dimensions          = { LoadBalancer = aws_lb.this.arn_suffix }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  threshold           = 10
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "target_5xx" {
  for_each = local.services

  alarm_name          = "${var.name}-${each.key}-5xx"
  alarm_description   = "The ${each.key} targets answer 5xx. Runbook: ${local.runbook.write_point_503}"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_Target_5XX_Count"
  dimensions          = { LoadBalancer = aws_lb.this.arn_suffix, TargetGroup = aws_lb_target_group.this[each.key].arn_suffix }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  threshold           = 10
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "unhealthy_targets" {
  for_each = local.services

  alarm_name          = "${var.name}-${each.key}-unhealthy-targets"
  alarm_description   = "Some ${each.key} targets fail /readyz for 5 minutes (a deploy stuck or a lease held?). Runbook: ${local.runbook.deploy_stuck}"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = { LoadBalancer = aws_lb.this.arn_suffix, TargetGroup = aws_lb_target_group.this[each.key].arn_suffix }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}

# The robots and the translator log their lag as JSON (tracing's
# `consumer_lag` field); the metric is the largest lag in each minute.
resource "aws_cloudwatch_log_metric_filter" "consumer_lag" {
  name           = "${var.name}-consumer-lag"
  log_group_name = var.log_group_name
  pattern        = "{ $.fields.consumer_lag >= 0 }"

  metric_transformation {
    name      = "ConsumerLag"
    namespace = "OWP/${var.environment}"
    value     = "$.fields.consumer_lag"
    unit      = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "consumer_lag" {
  alarm_name          = "${var.name}-consumer-lag"
  alarm_description   = "A consumer group has been more than ${var.consumer_lag_threshold} messages behind for 10 minutes. Runbook: ${local.runbook.consumer_lag}"
  namespace           = "OWP/${var.environment}"
  metric_name         = "ConsumerLag"
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 10
  threshold           = var.consumer_lag_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]

  depends_on = [aws_cloudwatch_log_metric_filter.consumer_lag]
}

# The deployer logs `event = "deploy.rollback"` when it rolls an instance
# back and marks the release bad.
resource "aws_cloudwatch_log_metric_filter" "rollback" {
  name           = "${var.name}-deployer-rollback"
  log_group_name = var.log_group_name
  pattern        = "{ $.fields.event = \"deploy.rollback\" }"

  metric_transformation {
    name          = "DeployerRollbacks"
    namespace     = "OWP/${var.environment}"
    value         = "1"
    default_value = "0"
    unit          = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "rollback" {
  alarm_name          = "${var.name}-deployer-rollback"
  alarm_description   = "The deployer rolled a release back. Runbook: ${local.runbook.rollback}"
  namespace           = "OWP/${var.environment}"
  metric_name         = "DeployerRollbacks"
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]

  depends_on = [aws_cloudwatch_log_metric_filter.rollback]
}
