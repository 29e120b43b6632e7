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

output "data_volume_ids" {
  description = "EBS data volume of each broker, by broker id order (survives instance replacement)."
  value       = local.volume_ids
}

output "network_interface_ids" {
  description = "Network interface (fixed address) of each broker, by broker id order."
  value       = local.eni_ids
}

output "nodes" {
  description = "Per broker: node id, address, instance, the AMI it runs and the resource addresses that `terraform/env <env> roll kafka` replaces."
  value = [
    for b in local.brokers : {
      node_id     = b.id
      ip          = b.ip
      instance_id = aws_instance.broker[b.index].id
      ami_id      = aws_instance.broker[b.index].ami
      wanted_ami  = b.ami_id
      # sha1 (no secret in it) of the user data the instance booted with, and of what a roll
      # would give it: they differ when the broker's configuration changed.
      user_data_sha1        = nonsensitive(sha1(aws_instance.broker[b.index].user_data_base64))
      wanted_user_data_sha1 = nonsensitive(sha1(local.user_data[b.index]))
      replace               = "aws_instance.broker[${b.index}]"
      targets               = ["aws_instance.broker[${b.index}]", "aws_volume_attachment.data[${b.index}]"]
    }
  ]
}

output "alarms" {
  description = "Every alarm of the module with the runbook its description links."
  value = concat(
    [for a in [aws_cloudwatch_metric_alarm.under_replicated, aws_cloudwatch_metric_alarm.under_min_isr, aws_cloudwatch_metric_alarm.offline_partitions, aws_cloudwatch_metric_alarm.active_controllers, aws_cloudwatch_metric_alarm.disk] :
    { name = a.alarm_name, runbook = regex("runbooks/([a-z0-9-]+[.]md)$", a.alarm_description)[0] }],
    [for a in concat(aws_cloudwatch_metric_alarm.status_system, aws_cloudwatch_metric_alarm.status_instance) :
    { name = a.alarm_name, runbook = regex("runbooks/([a-z0-9-]+[.]md)$", a.alarm_description)[0] }],
  )
}

output "zookeeper_chroot" {
  description = "ZooKeeper path the cluster's znodes live under (zookeeper-shell paths start with it)."
  value       = var.zookeeper_chroot
}

output "instance_names" {
  description = "Name tags of the brokers, by broker id order."
  value       = [for t in local.node_tags : t.Name]
}

output "security_protocol" {
  description = "What clients set as OWP_KAFKA_SECURITY_PROTOCOL: SASL_SSL when secure, else PLAINTEXT."
  value       = var.secure ? "SASL_SSL" : "PLAINTEXT"
}

output "clients_secret_arn" {
  description = "Secret with the services' SCRAM passwords (JSON, principal => password); empty when not secure."
  value       = var.secure ? aws_secretsmanager_secret.kafka_clients[0].arn : ""
}

output "users_secret_arn" {
  description = "Secret with every SCRAM user's password, the operator's owp-admin among them; empty when not secure."
  value       = var.secure ? aws_secretsmanager_secret.kafka_users[0].arn : ""
}

output "ca_certificate_parameter" {
  description = "SSM parameter holding the brokers' CA certificate (PEM), written at the brokers' first boot; empty when not secure."
  value       = var.secure ? aws_ssm_parameter.kafka_ca_certificate[0].name : ""
}

output "ca_certificate_parameter_arn" {
  description = "ARN of ca_certificate_parameter; empty when not secure."
  value       = var.secure ? aws_ssm_parameter.kafka_ca_certificate[0].arn : ""
}
