output "security_group_id" {
  description = "Security group of the app instances (client of Kafka, PostgreSQL and the read store)."
  value       = aws_security_group.app.id
}

output "alb_dns_name" {
  description = "DNS name of the ALB."
  value       = aws_lb.this.dns_name
}

output "url" {
  description = "Public HTTPS URL of the environment's API."
  value       = "https://${var.domain_name}"
}

output "target_group_arns" {
  description = "Target group ARNs by service (what the deployer registers with)."
  value       = { for k, tg in aws_lb_target_group.this : k => tg.arn }
}

output "autoscaling_group_name" {
  description = "Name of the app Auto Scaling group."
  value       = aws_autoscaling_group.app.name
}

output "alarm_names" {
  description = "Every alarm this module creates."
  value = concat(
    [aws_cloudwatch_metric_alarm.alb_5xx.alarm_name, aws_cloudwatch_metric_alarm.consumer_lag.alarm_name, aws_cloudwatch_metric_alarm.rollback.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.target_5xx : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.unhealthy_targets : a.alarm_name],
  )
}
