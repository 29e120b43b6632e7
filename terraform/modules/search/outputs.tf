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
  description = "ARN of the domain."
  value       = aws_opensearch_domain.this.arn
}
