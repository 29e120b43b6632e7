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
