output "state_bucket" {
  description = "Bucket of every Terraform state (terraform/env uses it as OWP_STATE_BUCKET)."
  value       = aws_s3_bucket.state.id
}

output "log_bucket" {
  description = "Bucket for ALB and S3 access logs."
  value       = aws_s3_bucket.logs.id
}

output "export_bucket" {
  description = "Bucket of the scheduled database exports."
  value       = aws_s3_bucket.exports.id
}

output "export_kms_key_arn" {
  description = "Key of the database exports."
  value       = aws_kms_key.exports.arn
}
