# Production: five metadata nodes (two may fail), brokers on EBS data
# volumes, Multi-AZ RDS with two weeks of backups, OpenSearch with dedicated
# masters, a NAT gateway per AZ, at least three app instances.

locals {
  environment = "prod"
}

module "stack" {
  source = "../../modules/stack"

  environment        = local.environment
  domain_name        = "api.${var.dns_zone_name}"
  route53_zone_id    = data.aws_route53_zone.this.zone_id
  runbook_base_url   = var.runbook_base_url
  alarm_email        = var.alarm_email
  image_manifest_dir = var.image_manifest_dir != "" ? var.image_manifest_dir : "${path.root}/../../../packer/manifests"
  ami_ids            = var.ami_ids
  pinned_ami_ids     = var.pinned_ami_ids

  cidr_block                     = "10.42.0.0/16"
  availability_zone_suffixes     = ["a", "b", "c"]
  nat_gateway_count              = 3
  zookeeper_node_count           = 5
  zookeeper_instance_type        = "m6i.large"
  kafka_broker_count             = 3
  kafka_instance_type            = "m6i.xlarge"
  kafka_data_volume_size_gb      = 1000
  kafka_data_volume_iops         = 3000
  kafka_data_volume_throughput   = 250
  kafka_heap                     = "4g"
  postgres_instance_class        = "db.r6g.large"
  postgres_multi_az              = true
  postgres_backup_retention_days = 14
  postgres_backup_copy_days      = 90
  search_instance_type           = "r6g.large.search"
  search_instance_count          = 3
  search_dedicated_master_type   = "m6g.large.search"
  app_instance_type              = "c6i.large"
  app_min_size                   = 3
  app_max_size                   = 6
}

data "aws_route53_zone" "this" {
  name         = var.dns_zone_name
  private_zone = false
}
