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

output "security_rules" {
  description = "Every rule of the ALB's and the instances' security groups as group/direction/port/peer, so tests can compare them with the architecture's list."
  value = concat(
    [for r in [aws_vpc_security_group_ingress_rule.alb_https_ipv4] : { group = "alb", direction = "ingress", port = r.from_port, to_port = r.to_port, peer = r.cidr_ipv4 }],
    [for k, r in aws_vpc_security_group_egress_rule.alb_to_app : { group = "alb", direction = "egress", port = r.from_port, to_port = r.to_port, peer = "app" }],
    [for k, r in aws_vpc_security_group_ingress_rule.app_from_alb : { group = "app", direction = "ingress", port = r.from_port, to_port = r.to_port, peer = "alb" }],
    [for r in [aws_vpc_security_group_egress_rule.app_https] : { group = "app", direction = "egress", port = r.from_port, to_port = r.to_port, peer = r.cidr_ipv4 }],
    [for k, r in aws_vpc_security_group_egress_rule.app_to_stores : { group = "app", direction = "egress", port = r.from_port, to_port = r.to_port, peer = k }],
  )
}

output "launch_hook" {
  description = "Name of the Auto Scaling group's launch lifecycle hook that owp-launch-gate completes."
  value       = local.launch_hook
}

output "alarms" {
  description = "Every alarm of the module with the runbook its description links."
  value = [
    for a in concat([aws_cloudwatch_metric_alarm.alb_5xx, aws_cloudwatch_metric_alarm.consumer_lag, aws_cloudwatch_metric_alarm.rollback], values(aws_cloudwatch_metric_alarm.target_5xx), values(aws_cloudwatch_metric_alarm.unhealthy_targets)) :
    { name = a.alarm_name, runbook = regex("runbooks/([a-z0-9-]+[.]md)$", a.alarm_description)[0] }
  ]
}

output "role_arn" {
  description = "The app instances' role (the read store admits its signed requests)."
  value       = aws_iam_role.app.arn
}
