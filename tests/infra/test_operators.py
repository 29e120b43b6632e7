"""Operators can act (checked on the parsed HCL): every alarm of every module links, through its
module's runbook map, a runbook that exists and notifies the alarm topic; the alarms an operator
of Kafka, ZooKeeper, RDS and OpenSearch expects exist; every instance role can register with
Session Manager, whose endpoints every VPC has and whose transcripts go to the log group
bootstrap creates; the app's rule list that terraform test compares with the architecture covers
every rule of the app module; the KRaft migration path is open."""

import re

import pytest

from conftest import REPO, TERRAFORM, blocks

MODULES = TERRAFORM / "modules"
RUNBOOKS = REPO / "runbooks"
ALARM_MODULES = ["app", "kafka", "zookeeper", "postgres", "search"]


def runbook_map(module):
    """local.runbook of a module: key -> runbook file."""
    text = "".join(p.read_text() for p in (MODULES / module).glob("*.tf"))
    block = re.search(r"runbook = \{\s*for key, file in \{(.*?)\}\s*:\s*key =>", text, re.S)
    assert block, f"{module} has no runbook map"
    assert '"${var.runbook_base_url}/runbooks/${file}"' in text
    return dict(re.findall(r'(\w+)\s+= "([a-z0-9-]+\.md)"', block.group(1)))


@pytest.mark.parametrize("module", ALARM_MODULES)
def test_every_alarm_names_a_runbook_that_exists(module):
    runbooks = runbook_map(module)
    assert runbooks and all((RUNBOOKS / f).is_file() for f in runbooks.values()), runbooks
    alarms = [(n, b) for p in (MODULES / module).glob("*.tf") for (t, n, b) in blocks(p, "resource")
              if t == "aws_cloudwatch_metric_alarm"]
    assert alarms
    for name, body in alarms:
        m = re.search(r"Runbook: \$\{local\.runbook\.(\w+)\}$", body["alarm_description"])
        assert m and m.group(1) in runbooks, f"{module}.{name}: {body['alarm_description']}"
        assert "${var.alarm_topic_arn}" in body["alarm_actions"], f"{module}.{name} notifies nobody"


def test_the_alarms_an_operator_expects_exist():
    metrics = {}
    for module in ALARM_MODULES:
        for p in (MODULES / module).glob("*.tf"):
            for (t, n, b) in blocks(p, "resource"):
                if t == "aws_cloudwatch_metric_alarm":
                    names = [b["metric_name"]] if "metric_name" in b else [q["metric"][0]["metric_name"] for q in b["metric_query"] if "metric" in q]
                    for metric in names:
                        metrics.setdefault(module, set()).add(metric)
    assert {"UnderReplicatedPartitions", "OfflinePartitionsCount", "ActiveControllerCount", "DataVolumeUsedPercent",
            "StatusCheckFailed_System", "StatusCheckFailed_Instance"} <= metrics["kafka"]
    assert {"ZooKeeperLeader", "ZooKeeperServing", "StatusCheckFailed_System", "StatusCheckFailed_Instance"} <= metrics["zookeeper"]
    assert {"FreeStorageSpace", "CPUUtilization", "ReplicaLag"} <= metrics["postgres"]
    assert {"ClusterStatus.red", "ClusterStatus.yellow", "ClusterIndexWritesBlocked", "FreeStorageSpace"} <= metrics["search"]


def test_the_node_metrics_the_alarms_watch_are_published():
    publisher = (REPO / "packer/files/kafka/owp-node-metrics.py").read_text()
    for module in ("kafka", "zookeeper"):
        text = (MODULES / module / "alarms.tf").read_text()
        for metric in re.findall(r'metric_name\s+= "([A-Za-z.]+)"', text):
            if metric.startswith("StatusCheck"):
                continue
            assert f'"{metric}"' in publisher, f"{module} alarms on {metric}, which owp-node-metrics does not publish"
        assert 'Cluster = "kafka"' in text or 'Cluster = var.metadata_mode' in text


@pytest.mark.parametrize("module", ["app", "kafka", "zookeeper"])
def test_every_instance_role_can_use_session_manager(module):
    res = {(t, n): b for (t, n, b) in blocks(MODULES / module / "main.tf", "resource")}
    assert res[("aws_iam_role_policy_attachment", "ssm")]["policy_arn"] == "${var.session_manager_policy_arn}"
    (name, var), = [(n, b) for n, b in blocks(MODULES / module / "variables.tf", "variable") if n == "session_manager_policy_arn"]
    assert var["default"] == "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    assert "${var.session_log_group_arn}:*" in (MODULES / module / "main.tf").read_text()


def test_every_vpc_has_the_session_manager_endpoints_and_bootstrap_the_log():
    network = (MODULES / "network/main.tf").read_text()
    assert 'toset(["ssm", "ssmmessages", "ec2messages"])' in network and "private_dns_enabled = true" in network
    bootstrap = (TERRAFORM / "bootstrap/main.tf").read_text()
    assert 'name              = "/owp/session-manager"' in bootstrap
    assert ":log-group:/owp/session-manager\"" in (MODULES / "stack/main.tf").read_text()
    assert 'name            = "SSM-SessionManagerRunShell"' in bootstrap


def test_the_app_rule_list_covers_every_rule():
    rules = [n for p in (MODULES / "app").glob("*.tf") for (t, n, b) in blocks(p, "resource")
             if t in ("aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule")]
    output = (MODULES / "app/outputs.tf").read_text().split('output "security_rules"', 1)[1].split("\noutput ", 1)[0]
    for name in rules:
        assert re.search(rf"aws_vpc_security_group_(ingress|egress)_rule\.{name}\b", output), f"security_rules misses {name}"


def test_the_kraft_migration_path_is_open():
    kafka = {(t, n): b for (t, n, b) in blocks(MODULES / "kafka/main.tf", "resource") if t.startswith("aws_vpc_security_group")}
    into_brokers = kafka[("aws_vpc_security_group_ingress_rule", "controllers")]
    assert into_brokers["security_group_id"] == "${aws_security_group.this.id}"
    assert into_brokers["referenced_security_group_id"] == "${var.metadata_security_group_id}"
    assert into_brokers["from_port"] == "${local.port}"
    out_of_controllers = kafka[("aws_vpc_security_group_egress_rule", "controllers")]
    assert out_of_controllers["security_group_id"] == "${var.metadata_security_group_id}"
    assert out_of_controllers["referenced_security_group_id"] == "${aws_security_group.this.id}"
    assert out_of_controllers["from_port"] == "${local.port}"


def test_the_read_store_admits_only_the_app_roles_signed_requests():
    search = {(t, n): b for (t, n, b) in blocks(MODULES / "search/main.tf", "data")}
    statement = search[("aws_iam_policy_document", "access")]["statement"]
    assert len(statement) == 1
    principals = statement[0]["principals"][0]
    assert principals["type"] == "AWS" and principals["identifiers"] == "${var.client_role_arns}"
    domain = {n: b for (t, n, b) in blocks(MODULES / "search/main.tf", "resource")}["this"]
    fgac = domain["advanced_security_options"][0]
    assert fgac["enabled"] is True and fgac["anonymous_auth_enabled"] is False and fgac["internal_user_database_enabled"] is False
    assert fgac["master_user_options"][0]["master_user_arn"] == "${var.client_role_arns[0]}"
    assert re.search(r"client_role_arns\s+= \[module\.app\.role_arn\]", (MODULES / "stack/main.tf").read_text())
