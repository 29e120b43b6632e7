# Production as an operator addresses it: the names the runbooks' commands
# use (tests/infra/test_runbook_names.py reads `expected_names` below and
# checks every owp-prod... name in runbooks/ against it), and every alarm
# linking a runbook that exists. Planned only, against a mocked provider.

mock_provider "aws" {
  source = "../../modules/stack/tests/mocks"
}

override_resource {
  target = module.stack.module.app.aws_acm_certificate.this
  values = {
    arn = "arn:aws:acm:us-east-1:123456789012:certificate/mock"
    domain_validation_options = [{
      domain_name           = "api.owp.example.org"
      resource_record_name  = "_x1.api.owp.example.org."
      resource_record_type  = "CNAME"
      resource_record_value = "_x2.acm-validations.aws."
    }]
  }
}

variables {
  owner         = "platform"
  dns_zone_name = "owp.example.org"
  ami_ids = {
    app       = "ami-0a000000000000001"
    kafka     = "ami-0b000000000000001"
    zookeeper = "ami-0c000000000000001"
  }

  expected_names = {
    environment             = "prod"
    name_prefix             = "owp-prod"
    db_instance             = "owp-prod"
    db_subnet_group         = "owp-prod"
    db_parameter_group      = "owp-prod-pg16"
    db_security_group       = "owp-prod-postgres"
    db_final_snapshot       = "owp-prod-final-"
    db_export_function      = "owp-prod-rds-export"
    db_backup_plan          = "owp-prod-database"
    db_backup_vault         = "owp-backups-us-east-1"
    db_backup_intake_vault  = "owp-backup-intake-us-east-1"
    db_backup_role          = "owp-backup-us-east-1"
    db_backup_schedule      = "cron(45 3 * * ? *)"
    db_export_schedule      = "cron(45 8 * * ? *)"
    search_domain           = "owp-prod"
    autoscaling_group       = "owp-prod-app"
    journal_log_group       = "/owp/prod/journal"
    metrics_namespace       = "OWP/prod"
    kafka_instance_names    = ["owp-prod-kafka-1", "owp-prod-kafka-2", "owp-prod-kafka-3"]
    metadata_instance_names = ["owp-prod-zk-1", "owp-prod-zk-2", "owp-prod-zk-3", "owp-prod-zk-4", "owp-prod-zk-5"]
    zookeeper_chroot        = "/owp-kafka"
    zookeeper_connect       = "10.42.128.32:2181,10.42.144.32:2181,10.42.160.32:2181,10.42.128.33:2181,10.42.144.33:2181"
  }
}

run "names_the_runbooks_use" {
  command = plan

  assert {
    condition     = output.operator_names == var.expected_names
    error_message = "Production's names changed; update expected_names here and the runbooks that use them."
  }
  assert {
    condition     = alltrue([for a in output.alarms : fileexists("${path.module}/../../../runbooks/${a.runbook}")])
    error_message = "An alarm links a runbook that does not exist."
  }
}
