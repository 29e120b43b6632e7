# One private copy of OWP per engineer, at the small profile: every part of
# the production shape (3 AZs, 3 ZooKeeper nodes, 3 Kafka brokers on
# EBS data volumes, RDS, OpenSearch, an ALB), each at its smallest sensible
# size. State key dev/<engineer>/terraform.tfstate, variables in
# <engineer>.tfvars; run it through terraform/env.

locals {
  environment = "dev-${var.engineer}"
}

module "stack" {
  source = "../../modules/stack"

  environment        = local.environment
  domain_name        = "${var.engineer}.dev.${var.dns_zone_name}"
  route53_zone_id    = data.aws_route53_zone.this.zone_id
  runbook_base_url   = var.runbook_base_url
  alarm_email        = var.alarm_email
  allow_destroy      = var.allow_destroy
  image_manifest_dir = var.image_manifest_dir != "" ? var.image_manifest_dir : "${path.root}/../../../packer/manifests"
  ami_ids            = var.ami_ids
  pinned_ami_ids     = var.pinned_ami_ids

  # The small profile (see terraform/README.md for what it costs per day).
  availability_zone_suffixes     = ["a", "b", "c"]
  nat_gateway_count              = 1
  zookeeper_node_count           = 3
  zookeeper_instance_type        = "t3.small"
  kafka_broker_count             = 3
  kafka_instance_type            = "t3.medium"
  kafka_data_volume_size_gb      = 20
  kafka_data_volume_iops         = 3000
  kafka_data_volume_throughput   = 125
  kafka_heap                     = "1g"
  postgres_instance_class        = "db.t4g.small"
  postgres_multi_az              = false
  postgres_backup_retention_days = 1
  postgres_backup_copy_days      = 7
  search_instance_type           = "t3.small.search"
  search_instance_count          = 1
  search_dedicated_master_type   = ""
  app_instance_type              = "t3.small"
  app_min_size                   = 1
  app_max_size                   = 2
}

data "aws_route53_zone" "this" {
  name         = var.dns_zone_name
  private_zone = false
}
