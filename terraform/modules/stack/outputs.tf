output "api_url" {
  description = "Public HTTPS URL of the environment."
  value       = module.app.url
}

output "alb_dns_name" {
  description = "DNS name of the ALB."
  value       = module.app.alb_dns_name
}

output "kafka_bootstrap_brokers" {
  description = "OWP_KAFKA_BROKERS of the environment."
  value       = module.kafka.bootstrap_brokers
}

output "zookeeper_connect" {
  description = "ZooKeeper connect string of the dedicated ensemble."
  value       = module.zookeeper.zookeeper_connect
}

output "database_address" {
  description = "RDS host name."
  value       = module.postgres.address
}

output "database_secret_arn" {
  description = "Secret with the database connection."
  value       = module.postgres.secret_arn
}

output "read_store_url" {
  description = "OWP_READ_STORE of the environment."
  value       = module.search.url
}

output "releases_bucket" {
  description = "Bucket Jenkins uploads releases to."
  value       = module.releases.bucket
}

output "alarm_topic_arn" {
  description = "SNS topic of every alarm."
  value       = aws_sns_topic.alarms.arn
}

output "ami_ids" {
  description = "AMIs the environment runs, by image."
  value       = local.ami_ids
}

output "kafka_nodes" {
  description = "The kafka module's nodes, with resource addresses relative to the root (module.stack.module.kafka...)."
  value = [for n in module.kafka.nodes : merge(n, {
    replace = "module.stack.module.kafka.${n.replace}"
    targets = [for t in n.targets : "module.stack.module.kafka.${t}"]
  })]
}

output "zookeeper_nodes" {
  description = "The zookeeper module's nodes, with resource addresses relative to the root (module.stack.module.zookeeper...)."
  value = [for n in module.zookeeper.nodes : merge(n, {
    replace = "module.stack.module.zookeeper.${n.replace}"
    targets = [for t in n.targets : "module.stack.module.zookeeper.${t}"]
  })]
}

output "kafka_data_volume_ids" {
  description = "EBS data volume of each broker, by broker id order."
  value       = module.kafka.data_volume_ids
}

output "kafka_network_interface_ids" {
  description = "Network interface (fixed address) of each broker, by broker id order."
  value       = module.kafka.network_interface_ids
}

output "zookeeper_volume_ids" {
  description = "Volumes of the metadata nodes by \"<myid>-<disk>\"."
  value       = module.zookeeper.volume_ids
}

output "zookeeper_network_interface_ids" {
  description = "Network interface (fixed address) of each metadata node, in node order."
  value       = module.zookeeper.network_interface_ids
}

output "node_data_protected" {
  description = "Whether the brokers' and metadata nodes' volumes and interfaces carry prevent_destroy (everywhere but engineer environments)."
  value       = local.protect_data
}

output "app_security_rules" {
  description = "Every rule of the ALB's and the app instances' security groups (group, direction, port, peer)."
  value       = module.app.security_rules
}

output "alarms" {
  description = "Every alarm of the environment with the runbook its description links (runbooks/<file>)."
  value       = concat(module.app.alarms, module.kafka.alarms, module.zookeeper.alarms, module.postgres.alarms, module.search.alarms)
}

output "operator_names" {
  description = "The names this environment gives what an operator addresses by name (the runbooks' commands use these; tests/infra checks them against terraform test's expectations)."
  value = {
    environment             = var.environment
    name_prefix             = local.name
    db_instance             = module.postgres.names.instance
    db_subnet_group         = module.postgres.names.subnet_group
    db_parameter_group      = module.postgres.names.parameter_group
    db_security_group       = module.postgres.names.security_group
    db_final_snapshot       = module.postgres.names.final_snapshot_prefix
    db_export_function      = module.postgres.names.export_function
    db_backup_plan          = module.postgres.names.backup_plan
    db_backup_vault         = module.postgres.names.backup_vault
    db_backup_intake_vault  = module.postgres.names.backup_intake_vault
    db_backup_role          = module.postgres.names.backup_role
    db_backup_schedule      = local.backup_schedule
    db_export_schedule      = local.export_schedule
    search_domain           = module.search.domain_name
    autoscaling_group       = module.app.autoscaling_group_name
    journal_log_group       = aws_cloudwatch_log_group.journal.name
    metrics_namespace       = local.metrics_namespace
    kafka_instance_names    = module.kafka.instance_names
    metadata_instance_names = module.zookeeper.instance_names
    zookeeper_chroot        = module.kafka.zookeeper_chroot
    zookeeper_connect       = module.zookeeper.zookeeper_connect
  }
}
