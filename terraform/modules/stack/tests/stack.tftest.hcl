# One whole environment planned and applied against a mocked AWS provider.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  environment        = "dev-citest"
  domain_name        = "citest.dev.owp.example.org"
  route53_zone_id    = "Z0123456789ABCDEFGHIJ"
  image_manifest_dir = "/nonexistent"
  ami_ids = {
    app       = "ami-0a000000000000001"
    kafka     = "ami-0b000000000000001"
    zookeeper = "ami-0c000000000000001"
  }
  kafka_instance_type            = "c5d.large"
  search_dedicated_master_type   = ""
  search_instance_count          = 1
  search_instance_type           = "t3.small.search"
  postgres_instance_class        = "db.t4g.small"
  postgres_multi_az              = false
  postgres_backup_retention_days = 1
  app_min_size                   = 1
  app_max_size                   = 2
}

# The certificate's validation record, as ACM would answer it for the name.
override_resource {
  target = module.app.aws_acm_certificate.this
  values = {
    arn = "arn:aws:acm:us-east-1:123456789012:certificate/mock"
    domain_validation_options = [{
      domain_name           = "citest.dev.owp.example.org"
      resource_record_name  = "_x1.citest.dev.owp.example.org."
      resource_record_type  = "CNAME"
      resource_record_value = "_x2.acm-validations.aws."
    }]
  }
}

run "plans" {
  command = plan

  assert {
    condition     = alltrue([for n in concat(output.kafka_nodes, output.zookeeper_nodes) : tonumber(split(".", n.ip)[3]) >= 32 && tonumber(split(".", n.ip)[3]) <= 63])
    error_message = "Every broker and metadata node address is in its subnet's reserved range (hosts 32-63)."
  }
  assert {
    condition     = length(distinct([for n in concat(output.kafka_nodes, output.zookeeper_nodes) : n.ip])) == 6
    error_message = "No two nodes share an address."
  }

  # The app's security groups open exactly what the architecture lists: HTTPS
  # from anywhere to the ALB; the ALB to the three HTTP services (write point
  # 8080, read point 8081, auth 8082); the instances to Kafka, PostgreSQL, the
  # read store, and HTTPS for AWS APIs and S3. Nothing else.
  assert {
    condition = toset(output.app_security_rules) == toset([
      { group = "alb", direction = "ingress", port = 443, to_port = 443, peer = "0.0.0.0/0" },
      { group = "alb", direction = "egress", port = 8080, to_port = 8080, peer = "app" },
      { group = "alb", direction = "egress", port = 8081, to_port = 8081, peer = "app" },
      { group = "alb", direction = "egress", port = 8082, to_port = 8082, peer = "app" },
      { group = "app", direction = "ingress", port = 8080, to_port = 8080, peer = "alb" },
      { group = "app", direction = "ingress", port = 8081, to_port = 8081, peer = "alb" },
      { group = "app", direction = "ingress", port = 8082, to_port = 8082, peer = "alb" },
      { group = "app", direction = "egress", port = 443, to_port = 443, peer = "0.0.0.0/0" },
      { group = "app", direction = "egress", port = 9092, to_port = 9092, peer = "kafka" },
      { group = "app", direction = "egress", port = 5432, to_port = 5432, peer = "postgres" },
      { group = "app", direction = "egress", port = 443, to_port = 443, peer = "search" },
    ])
    error_message = "The app's security groups must open exactly what the architecture lists."
  }

  # Every alarm links a runbook that exists in this repository.
  assert {
    condition     = alltrue([for a in output.alarms : fileexists("${path.module}/../../../runbooks/${a.runbook}")])
    error_message = "An alarm links a runbook that does not exist: ${join(", ", [for a in output.alarms : a.runbook if !fileexists("${path.module}/../../../runbooks/${a.runbook}")])}"
  }
  # The alarms an operator of Kafka, ZooKeeper, RDS and OpenSearch expects.
  assert {
    condition = alltrue([for n in [
      "kafka-under-replicated", "kafka-under-min-isr", "kafka-offline-partitions", "kafka-active-controllers", "kafka-disk",
      "kafka-1-system-check", "kafka-3-instance-check", "zookeeper-quorum", "zookeeper-member-down", "metadata-disk",
      "metadata-2-system-check", "metadata-3-instance-check", "rds-storage", "rds-cpu", "rds-replica-lag",
      "search-red", "search-writes-blocked", "search-storage", "alb-5xx", "consumer-lag",
    ] : contains([for a in output.alarms : a.name], "owp-dev-citest-${n}")])
    error_message = "An expected alarm is missing."
  }
}

run "applies" {
  command = apply

  # Kafka is SASL_SSL with a principal per service: the app instances get the
  # services' credentials and the CA certificate's parameter.
  assert {
    condition     = module.kafka.security_protocol == "SASL_SSL" && module.kafka.clients_secret_arn != "" && endswith(module.kafka.ca_certificate_parameter, "/kafka/ca-certificate")
    error_message = "Kafka must run SASL_SSL with the services' credentials in a secret of their own."
  }
}
