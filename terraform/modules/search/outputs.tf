output "endpoint" {
  description = "Host name of the domain's VPC endpoint."
  value       = aws_opensearch_domain.this.endpoint
}

output "url" {
  description = "HTTPS URL for OWP_READ_STORE."
  value       = "https://${aws_opensearch_domain.this.endpoint}"
}

output "security_group_id" {
  description = "Security group of the domain."
  value       = aws_security_group.this.id
}

output "domain_arn" {
  description = "ARN of the domain (known before it exists, so the client role's policy can name it)."
  value       = local.domain_arn
}

output "alarms" {
  description = "Every alarm of the module with the runbook its description links."
  value = [for a in concat([aws_cloudwatch_metric_alarm.red], aws_cloudwatch_metric_alarm.yellow, [aws_cloudwatch_metric_alarm.writes_blocked, aws_cloudwatch_metric_alarm.storage]) :
  { name = a.alarm_name, runbook = regex("runbooks/([a-z0-9-]+[.]md)$", a.alarm_description)[0] }]
}

output "domain_name" {
  description = "Name of the OpenSearch domain."
  value       = aws_opensearch_domain.this.domain_name
}
