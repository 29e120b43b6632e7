output "address" {
  description = "Host name of the database."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "Port of the database."
  value       = aws_db_instance.this.port
}

output "database_name" {
  description = "Name of the OWP database."
  value       = local.db_name
}

output "secret_arn" {
  description = "Secrets Manager secret with username, password, host, port, dbname; read by owp-database-env at boot."
  value       = aws_secretsmanager_secret.database.arn
}

output "security_group_id" {
  description = "Security group of the database."
  value       = aws_security_group.this.id
}

output "instance_identifier" {
  description = "RDS instance identifier."
  value       = aws_db_instance.this.identifier
}

output "export_function_name" {
  description = "Lambda function that exports the newest automated snapshot (invoke it by hand for an export now)."
  value       = aws_lambda_function.export.function_name
}
