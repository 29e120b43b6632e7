output "api_url" {
  description = "Public HTTPS URL of the environment."
  value       = module.stack.api_url
}

output "kafka_bootstrap_brokers" {
  description = "OWP_KAFKA_BROKERS of the environment."
  value       = module.stack.kafka_bootstrap_brokers
}

output "zookeeper_connect" {
  description = "ZooKeeper connect string of the dedicated ensemble."
  value       = module.stack.zookeeper_connect
}

output "database_address" {
  description = "RDS host name."
  value       = module.stack.database_address
}

output "read_store_url" {
  description = "OWP_READ_STORE of the environment."
  value       = module.stack.read_store_url
}

output "releases_bucket" {
  description = "Bucket Jenkins uploads this environment's releases to."
  value       = module.stack.releases_bucket
}

output "ami_ids" {
  description = "AMIs the environment runs."
  value       = module.stack.ami_ids
}

output "kafka_nodes" {
  description = "Per broker: node id, address, instance, AMI running and wanted, and what a roll replaces (terraform/env roll kafka reads it)."
  value       = module.stack.kafka_nodes
}

output "zookeeper_nodes" {
  description = "Per metadata node: node id, address, instance, AMI running and wanted, and what a roll replaces (terraform/env roll zookeeper reads it)."
  value       = module.stack.zookeeper_nodes
}

output "operator_names" {
  description = "Names an operator types in the runbooks' commands (database, groups, log group, namespace, instance names)."
  value       = module.stack.operator_names
}

output "alarms" {
  description = "Every alarm of the environment with the runbook it links."
  value       = module.stack.alarms
}
