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
  description = "Secrets Manager secret of the master user (username, password, host, port, dbname); read at boot by owp-database-env for owp-database-setup alone."
  value       = aws_secretsmanager_secret.database.arn
}

output "service_secret_arns" {
  description = "Secrets Manager secret of each service role (owp_robots, owp_auth, owp_translator, owp_readpoint), by role: username, password, host, port, dbname."
  value       = { for role, secret in aws_secretsmanager_secret.service : role => secret.arn }
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

output "alarms" {
  description = "Every alarm of the module with the runbook its description links."
  value = [for a in [aws_cloudwatch_metric_alarm.storage, aws_cloudwatch_metric_alarm.cpu, aws_cloudwatch_metric_alarm.replica_lag] :
  { name = a.alarm_name, runbook = regex("runbooks/([a-z0-9-]+[.]md)$", a.alarm_description)[0] }]
}

output "names" {
  description = "Names an operator types (runbooks): instance, subnet group, parameter group, security group, the final snapshot's prefix, the export function."
  value = {
    instance              = aws_db_instance.this.identifier
    subnet_group          = aws_db_subnet_group.this.name
    parameter_group       = aws_db_parameter_group.this.name
    security_group        = aws_security_group.this.name
    final_snapshot_prefix = "${var.name}-final-"
    export_function       = aws_lambda_function.export.function_name
    backup_plan           = aws_backup_plan.database.name
    backup_vault          = data.aws_backup_vault.locked.name
    backup_intake_vault   = data.aws_backup_vault.intake.name
    backup_role           = data.aws_iam_role.backup.name
  }
}
