# The account-level root, planned (never applied: its prevent_destroy would
# stop the test's own clean-up) against a mocked provider: the vaults every
# environment's backups land in, their lock, the key the copies are
# re-encrypted with, and the shared per-region resources. What an
# environment's `destroy` cannot touch is checked from both sides: here, that
# these exist under the names the postgres module looks up; in
# tests/infra/test_backups.py, that they carry prevent_destroy and that no
# environment declares one.

mock_provider "aws" {
  source = "../modules/stack/tests/mocks"
}

variables {
  owner  = "platform"
  region = "us-east-1"
}

run "backups_outlive_every_environment" {
  command = plan

  assert {
    condition     = output.backup_vaults == { intake = "owp-backup-intake-us-east-1", locked = "owp-backups-us-east-1" }
    error_message = "The vaults must have the names modules/postgres looks up."
  }
  assert {
    condition     = aws_backup_vault_lock_configuration.locked.backup_vault_name == "owp-backups-us-east-1" && aws_backup_vault_lock_configuration.locked.min_retention_days == 7 && aws_backup_vault_lock_configuration.locked.max_retention_days >= 90
    error_message = "The locked vault's lock must admit every environment's copy retention (7 to 90 days)."
  }
  assert {
    condition     = aws_backup_vault_lock_configuration.locked.changeable_for_days <= 7
    error_message = "The lock must become compliance mode within a week."
  }
  assert {
    condition     = aws_iam_role.backup.name == "owp-backup-us-east-1"
    error_message = "The backup role must have the name modules/postgres looks up."
  }
  assert {
    condition     = aws_cloudwatch_log_group.sessions.name == "/owp/session-manager" && aws_ssm_document.session_preferences.name == "SSM-SessionManagerRunShell"
    error_message = "Session Manager's preferences and transcript log group are the account's, here."
  }
  assert {
    condition     = length(aws_servicequotas_service_quota.vpcs) == 0 && length(aws_servicequotas_service_quota.eips) == 0 && aws_s3_object.engineer_environment_limit.content == "1\n"
    error_message = "With the default quotas, one engineer environment fits and nothing is requested."
  }
}

run "more_engineer_environments_request_quotas" {
  command = plan

  variables {
    max_engineer_environments = 4
  }

  assert {
    condition     = aws_servicequotas_service_quota.vpcs[0].value == 7 && aws_servicequotas_service_quota.eips[0].value == 8
    error_message = "Four engineer environments need 7 VPCs (default, staging, prod, 4) and 8 Elastic IPs (prod 3, staging 1, 4)."
  }
  assert {
    condition     = aws_s3_object.engineer_environment_limit.content == "4\n"
    error_message = "terraform/env reads the limit from the state bucket."
  }
}

run "jenkins_gets_a_role_only_when_named" {
  command = plan

  variables {
    jenkins_principal_arns = ["arn:aws:iam::123456789012:role/jenkins-agent"]
  }

  assert {
    condition     = aws_iam_role.jenkins_publisher[0].name == "owp-jenkins-publisher-us-east-1" && length(aws_iam_role_policy_attachment.jenkins_publisher) == 1
    error_message = "Named agents get the publisher role with the publisher policy."
  }
}
