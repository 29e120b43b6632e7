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

output "backup_vaults" {
  description = "The intake vault (daily RDS backups, short-lived) and the locked vault (copies under the bootstrap key)."
  value       = { intake = aws_backup_vault.intake.name, locked = aws_backup_vault.locked.name }
}

output "backup_role_arn" {
  description = "Role the environments' backup selections name."
  value       = aws_iam_role.backup.arn
}

output "session_log_group" {
  description = "Log group of every Session Manager transcript."
  value       = aws_cloudwatch_log_group.sessions.name
}

output "max_engineer_environments" {
  description = "Engineer environments allowed at once (terraform/env reads s3://<state bucket>/limits/engineer-environments)."
  value       = var.max_engineer_environments
}

output "jenkins_publisher_policy_arn" {
  description = "Managed policy of the delivery pipeline (Publish, Bake, Deploy, Verify)."
  value       = aws_iam_policy.jenkins_publisher.arn
}
