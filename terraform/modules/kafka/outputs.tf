output "bootstrap_brokers" {
  description = "host:9092 list for OWP_KAFKA_BROKERS."
  value       = local.bootstrap_brokers
}

output "security_group_id" {
  description = "Security group of the brokers."
  value       = aws_security_group.this.id
}

output "broker_ips" {
  description = "Fixed private addresses of the brokers, by broker id order."
  value       = [for b in local.brokers : b.ip]
}

output "instance_ids" {
  description = "EC2 instance ids of the brokers."
  value       = aws_instance.broker[*].id
}
