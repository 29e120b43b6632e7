"""Backups that outlive destroy (checked on the parsed HCL; terraform test plans both sides): the
vaults and the key their copies are encrypted with live in bootstrap under prevent_destroy, the
copy vault is locked, no environment declares a vault of its own, the names the postgres module
looks up are the ones bootstrap creates, every environment's copy retention is inside the lock's
bounds, and account-wide jobs are staggered per environment."""

import re

from conftest import TERRAFORM, blocks

BOOTSTRAP = TERRAFORM / "bootstrap/main.tf"


def bootstrap_resources():
    return {(t, n): b for (t, n, b) in blocks(BOOTSTRAP, "resource")}


def test_vaults_and_backup_key_are_bootstraps_and_never_destroyed():
    res = bootstrap_resources()
    for key in [("aws_backup_vault", "intake"), ("aws_backup_vault", "locked"), ("aws_kms_key", "backups")]:
        assert res[key]["lifecycle"][0]["prevent_destroy"] is True, key
    for vault in ("intake", "locked"):
        assert res[("aws_backup_vault", vault)]["kms_key_arn"] == "${aws_kms_key.backups.arn}"
    lock = res[("aws_backup_vault_lock_configuration", "locked")]
    assert lock["backup_vault_name"] == "${aws_backup_vault.locked.name}" and "changeable_for_days" in lock


def test_no_environment_owns_a_vault():
    for path in (TERRAFORM / "modules").rglob("*.tf"):
        for (t, n, b) in blocks(path, "resource"):
            assert t not in ("aws_backup_vault", "aws_backup_vault_lock_configuration"), f"{path}: {t}.{n}"


def test_postgres_looks_up_what_bootstrap_creates():
    res = bootstrap_resources()
    backup = {(t, n): b for (t, n, b) in blocks(TERRAFORM / "modules/postgres/backup.tf", "data")}
    as_bootstrap = lambda s: s.replace("${data.aws_region.current.name}", "${var.region}")
    assert as_bootstrap(backup[("aws_backup_vault", "intake")]["name"]) == res[("aws_backup_vault", "intake")]["name"]
    assert as_bootstrap(backup[("aws_backup_vault", "locked")]["name"]) == res[("aws_backup_vault", "locked")]["name"]
    assert as_bootstrap(backup[("aws_iam_role", "backup")]["name"]) == res[("aws_iam_role", "backup")]["name"]
    plan = {(t, n): b for (t, n, b) in blocks(TERRAFORM / "modules/postgres/backup.tf", "resource")}[("aws_backup_plan", "database")]
    rule = plan["rule"][0]
    assert rule["target_vault_name"] == "${data.aws_backup_vault.intake.name}"
    assert rule["copy_action"][0]["destination_vault_arn"] == "${data.aws_backup_vault.locked.arn}"


def test_every_environments_retention_is_inside_the_lock():
    variables = dict(blocks(TERRAFORM / "bootstrap/variables.tf", "variable"))
    low, high = variables["backup_min_retention_days"]["default"], variables["backup_max_retention_days"]["default"]
    for env in ("dev", "staging", "prod"):
        days = int(re.search(r"postgres_backup_copy_days\s+= (\d+)", (TERRAFORM / "envs" / env / "main.tf").read_text()).group(1))
        assert low <= days <= high, env


def test_account_wide_jobs_are_staggered():
    stack = (TERRAFORM / "modules/stack/main.tf").read_text()
    assert "parseint(substr(sha1(local.name), 0, 6), 16) % 16" in stack
    assert re.search(r"export_schedule\s+= local\.export_schedule", stack)
    assert re.search(r"backup_schedule\s+= local\.backup_schedule", stack)


def test_shared_per_region_resources_are_in_bootstrap():
    res = bootstrap_resources()
    assert ("aws_cloudwatch_log_resource_policy", "opensearch") in res
    for path in (TERRAFORM / "modules").rglob("*.tf"):
        types = {t for (t, n, b) in blocks(path, "resource")}
        assert "aws_cloudwatch_log_resource_policy" not in types, f"{path}: one per environment exhausts the account's ten"
        assert "aws_ssm_document" not in types and "aws_servicequotas_service_quota" not in types
