# Staging: production's shape at reduced size, so deploys and failovers are
# rehearsed on the same topology (Multi-AZ RDS, three OpenSearch nodes, two
# app instances for rolling deploys without downtime).

locals {
  environment = "staging"
}

module "stack" {
  source = "../../modules/stack"

  environment        = local.environment
  domain_name        = "staging.${var.dns_zone_name}"
  route53_zone_id    = data.aws_route53_zone.this.zone_id
  runbook_base_url   = var.runbook_base_url
  alarm_email        = var.alarm_email
  image_manifest_dir = var.image_manifest_dir != "" ? var.image_manifest_dir : "${path.root}/../../../packer/manifests"
  ami_ids            = var.ami_ids
  pinned_ami_ids     = var.pinned_ami_ids

  cidr_block                     = "10.41.0.0/16"
  availability_zone_suffixes     = ["a", "b", "c"]
  nat_gateway_count              = 1
  zookeeper_node_count           = 3
  zookeeper_instance_type        = "m6i.large"
  kafka_broker_count             = 3
  kafka_instance_type            = "m6i.large"
  kafka_data_volume_size_gb      = 200
  kafka_data_volume_iops         = 3000
  kafka_data_volume_throughput   = 125
  kafka_heap                     = "2g"
  postgres_instance_class        = "db.m6g.large"
  postgres_multi_az              = true
  postgres_backup_retention_days = 7
  postgres_backup_copy_days      = 35
  search_instance_type           = "m6g.large.search"
  search_instance_count          = 3
  search_dedicated_master_type   = ""
  app_instance_type              = "c6i.large"
  app_min_size                   = 2
  app_max_size                   = 4
}

data "aws_route53_zone" "this" {
  name         = var.dns_zone_name
  private_zone = false
}
