"""Safety settings of terraform/, checked on the parsed HCL: RDS deletion
protection, final snapshot and retained backups; encryption of every
store; IMDSv2 on every instance; no security group open to the internet
except the ALB's 443; alarms that link their runbooks."""

import re

from conftest import TERRAFORM, all_resources, blocks, parse_tf

MODULES = TERRAFORM / "modules"


def var_default(module, name):
    for var, body in blocks(MODULES / module / "variables.tf", "variable"):
        if var == name:
            return body
    raise AssertionError(f"{module} has no variable {name}")


def resources(rtype):
    return [(p, n, b) for (p, t, n, b) in all_resources() if t == rtype]


def test_rds_is_protected_encrypted_and_backed_up():
    (path, _, db), = resources("aws_db_instance")
    assert db["storage_encrypted"] is True
    # The environment key, or (adopting a database restored from the locked vault) the key given.
    assert db["kms_key_id"] == '${var.database_kms_key_arn != "" ? var.database_kms_key_arn : var.kms_key_arn}'
    assert db["publicly_accessible"] is False
    assert db["skip_final_snapshot"] is False
    assert "final_snapshot_identifier" in db
    assert db["delete_automated_backups"] is False
    # Deletion protection comes from a variable that defaults to on...
    assert db["deletion_protection"] == "${var.deletion_protection}"
    assert var_default("postgres", "deletion_protection")["default"] is True
    # ...and only the explicit allow_destroy switch (default off) lifts it.
    stack = (MODULES / "stack/main.tf").read_text()
    assert re.search(r"^\s+deletion_protection\s+= !var\.allow_destroy$", stack, re.M)
    for env in ("dev", "staging", "prod"):
        assert "allow_destroy = true" not in (TERRAFORM / "envs" / env / "main.tf").read_text()
    assert var_default("stack", "allow_destroy")["default"] is False
    # Backups can never be switched off (retention 0).
    assert db["backup_retention_period"] == "${var.backup_retention_days}"
    condition = var_default("postgres", "backup_retention_days")["validation"][0]["condition"]
    assert ">= 1" in condition


def test_rds_exports_go_to_a_bucket_outside_the_environment():
    (path, _, schedule), = resources("aws_scheduler_schedule")
    assert "postgres" in str(path)
    (_, _, fn), = resources("aws_lambda_function")
    env = fn["environment"][0]["variables"]
    assert env["EXPORT_BUCKET"] == "${var.export_bucket_name}"
    bootstrap = parse_tf(TERRAFORM / "bootstrap/main.tf")
    buckets = {n: b for e in bootstrap["resource"] for t, inner in e.items() if t == "aws_s3_bucket" for n, b in inner.items()}
    assert buckets["exports"]["object_lock_enabled"] is True
    assert buckets["exports"]["lifecycle"][0]["prevent_destroy"] is True
    locks = [b for (p, n, b) in resources("aws_s3_bucket_object_lock_configuration")]
    assert locks[0]["rule"][0]["default_retention"][0]["mode"] == "COMPLIANCE"
    stack = (MODULES / "stack/main.tf").read_text()
    assert 'export_bucket_name = "owp-db-exports-' in stack


def test_every_volume_is_encrypted_and_imdsv2_is_required():
    instances = resources("aws_instance") + resources("aws_launch_template")
    assert len(instances) >= 3
    for path, name, body in instances:
        meta = body["metadata_options"][0]
        assert meta["http_tokens"] == "required", f"{path}:{name} allows IMDSv1"
        assert meta["http_endpoint"] == "enabled"
        assert meta["http_put_response_hop_limit"] == 1
        volumes = body.get("root_block_device", []) + body.get("ebs_block_device", [])
        volumes += [m["ebs"][0] for m in body.get("block_device_mappings", [])]
        assert volumes, f"{path}:{name} declares no volume"
        for v in volumes:
            assert v["encrypted"] is True, f"{path}:{name} has an unencrypted volume"
            assert v["kms_key_id"] == "${var.kms_key_arn}"


def test_every_bucket_is_encrypted_versioned_and_private():
    for kind in ("aws_s3_bucket_server_side_encryption_configuration", "aws_s3_bucket_versioning",
                 "aws_s3_bucket_public_access_block", "aws_s3_bucket_policy"):
        covered = {(p, b["bucket"]) for (p, n, b) in resources(kind)}
        for path, name, _ in resources("aws_s3_bucket"):
            assert (path, f"${{aws_s3_bucket.{name}.id}}") in covered, f"{path}: bucket {name} lacks {kind}"
    for path, name, body in resources("aws_s3_bucket_public_access_block"):
        assert all(body[k] is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"))
    for path, name, body in resources("aws_s3_bucket_policy"):
        text = (path.read_text())
        assert "aws:SecureTransport" in text, f"{path}: bucket policy does not deny plain HTTP"


def test_every_other_store_is_encrypted():
    for path, name, body in resources("aws_cloudwatch_log_group"):
        assert body.get("kms_key_id"), f"{path}: log group {name} is not KMS-encrypted"
    for path, name, body in resources("aws_sns_topic"):
        assert body.get("kms_master_key_id"), f"{path}: topic {name}"
    for path, name, body in resources("aws_sqs_queue"):
        assert body.get("kms_master_key_id"), f"{path}: queue {name}"
    for path, name, body in resources("aws_secretsmanager_secret"):
        assert body.get("kms_key_id"), f"{path}: secret {name}"
    for path, name, body in resources("aws_kms_key"):
        assert body["enable_key_rotation"] is True
    (path, name, search), = resources("aws_opensearch_domain")
    assert search["encrypt_at_rest"][0]["enabled"] is True
    assert search["node_to_node_encryption"][0]["enabled"] is True
    assert search["domain_endpoint_options"][0]["enforce_https"] is True
    assert "vpc_options" in search
    (path, name, lb), = resources("aws_lb_listener")
    assert lb["protocol"] == "HTTPS" and lb["port"] == 443
    params = {p["name"]: p["value"] for (_, _, g) in resources("aws_db_parameter_group") for p in g["parameter"]}
    assert params["rds.force_ssl"] == "1"


def test_only_the_alb_accepts_the_internet_and_only_on_443():
    open_rules = []
    for path, rtype, name, body in all_resources():
        if rtype == "aws_security_group":
            assert "ingress" not in body, f"{path}: inline ingress in {name}; use rule resources"
        if rtype in ("aws_vpc_security_group_ingress_rule",):
            cidrs = [body.get("cidr_ipv4"), body.get("cidr_ipv6")]
        elif rtype == "aws_security_group_rule" and body.get("type") == "ingress":
            cidrs = body.get("cidr_blocks", []) + body.get("ipv6_cidr_blocks", [])
        else:
            continue
        if any(c in ("0.0.0.0/0", "::/0") for c in cidrs if c):
            open_rules.append((path, name, body))
    assert len(open_rules) == 1, open_rules
    path, name, body = open_rules[0]
    assert path == MODULES / "app/main.tf"
    assert body["security_group_id"] == "${aws_security_group.alb.id}"
    assert body["from_port"] == 443 and body["to_port"] == 443 and body["ip_protocol"] == "tcp"


def test_target_groups_are_tuned_for_fast_deploys():
    (path, name, tg), = resources("aws_lb_target_group")
    hc = tg["health_check"][0]
    assert hc["interval"] == 5 and hc["healthy_threshold"] == 2 and hc["path"] == "/readyz"
    assert tg["deregistration_delay"] == "${var.deregistration_delay_seconds}"
    delay = var_default("app", "deregistration_delay_seconds")
    assert delay["default"] <= 30
    assert "<= 60" in delay["validation"][0]["condition"]


def test_alarms_link_their_runbooks():
    app = (MODULES / "app/main.tf").read_text() + (MODULES / "app/alarms.tf").read_text()
    expected = {"write-point-503.md", "deploy-stuck-or-lease-held.md", "consumer-lag-growing.md", "roll-back-a-release.md"}
    assert expected == set(re.findall(r'= "([a-z0-9-]+\.md)"', app))
    assert '"${var.runbook_base_url}/runbooks/${file}"' in app
    alarms = resources("aws_cloudwatch_metric_alarm")
    assert len(alarms) >= 5
    metrics = set()
    for path, name, body in alarms:
        assert "Runbook: ${local.runbook." in body["alarm_description"], name
        assert body["alarm_actions"], name
        # A plain metric alarm, or one on metric math over metric_query blocks.
        queried = [q["metric"][0]["metric_name"] for q in body.get("metric_query", []) if "metric" in q]
        metrics |= {body["metric_name"]} if "metric_name" in body else set(queried)
    assert {"HTTPCode_ELB_5XX_Count", "UnHealthyHostCount", "ConsumerLag", "DeployerRollbacks"} <= metrics


def test_instance_roles_are_least_privilege():
    app = (MODULES / "app/main.tf").read_text()
    # Only DescribeTargetHealth, which has no resource-level scoping, uses "*".
    assert app.count('resources = ["*"]') == 1
    assert '"${var.releases_bucket_arn}/leases/${var.environment}/*"' in app
    for module in ("zookeeper", "kafka"):
        text = (MODULES / module / "main.tf").read_text()
        assert 'actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]' in text
        assert text.count("aws_iam_role_policy\"") == 1
