# Daily AWS Backup of the database into the account's vaults (created by
# terraform/bootstrap, outside this environment's state): a backup into the
# intake vault, copied into the locked vault under the bootstrap's key and
# kept there backup_copy_retention_days. What outlives `terraform destroy`:
# these copies (restorable: runbooks/restore-rds.md), besides the Parquet
# exports (export.tf), which are for reading tables, not for restoring.

data "aws_backup_vault" "intake" {
  name = "owp-backup-intake-${data.aws_region.current.name}"
}

data "aws_backup_vault" "locked" {
  name = "owp-backups-${data.aws_region.current.name}"
}

data "aws_iam_role" "backup" {
  name = "owp-backup-${data.aws_region.current.name}"
}

resource "aws_backup_plan" "database" {
  name = "${var.name}-database"

  rule {
    rule_name         = "daily-copy-to-locked-vault"
    target_vault_name = data.aws_backup_vault.intake.name
    schedule          = var.backup_schedule
    start_window      = 60
    completion_window = 360

    # The intake backup is encrypted with this environment's key; only the
    # copy (re-encrypted with the bootstrap key) has to last.
    lifecycle {
      delete_after = 2
    }

    copy_action {
      destination_vault_arn = data.aws_backup_vault.locked.arn
      lifecycle {
        delete_after = var.backup_copy_retention_days
      }
    }
  }
}

resource "aws_backup_selection" "database" {
  name         = "${var.name}-database"
  plan_id      = aws_backup_plan.database.id
  iam_role_arn = data.aws_iam_role.backup.arn
  resources    = [aws_db_instance.this.arn]
}
