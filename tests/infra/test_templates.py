"""The configuration templates under terraform/templates, rendered the way
the Terraform modules render them: the Kafka policy that must hold on every
broker, the ZooKeeper ensemble file, and user data that is valid bash."""

import shutil
import subprocess

import pytest

from conftest import TEMPLATES, TERRAFORM
from tftpl import UnsupportedTemplate, render, render_file

BROKER = {
    "metadata_mode": "zookeeper",
    "zookeeper_connect": "10.40.128.10:2181,10.40.144.10:2181,10.40.160.10:2181/owp-kafka",
    "controller_quorum_voters": "3001@10.40.128.10:9093,3002@10.40.144.10:9093,3003@10.40.160.10:9093",
    "port": 9092,
    "listen_host": "0.0.0.0",
    "advertised_host": "10.40.128.20",
    "rack": "us-east-1a",
    "replication_factor": 3,
    "min_insync_replicas": 2,
    "num_partitions": 12,
    "secure": False,
    "broker_user": "kafka-broker",
    "tls_dir": "/etc/kafka/tls",
}


def properties(text):
    out = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            assert key not in out, f"duplicate key {key}"
            out[key] = value
    return out


def test_renderer_handles_the_subset_and_rejects_the_rest():
    assert render("a=${x.y}\n%{ for i in l ~}\n${i},\n%{ endfor ~}\nz", {"x": {"y": 1}, "l": [1, 2]}) == "a=1\n1,\n2,\nz"
    assert render('%{ if m == "k" }K%{ else }Z%{ endif }', {"m": "k"}) == "K"
    assert render("$${not} %%{ either }", {}) == "${not} %{ either }"
    with pytest.raises(UnsupportedTemplate):
        render("${upper(x)}", {"x": "a"})
    with pytest.raises(KeyError):
        render("${missing}", {})


def test_broker_properties_enforce_the_cluster_policy():
    p = properties(render_file(TEMPLATES / "server.properties.tftpl", BROKER))
    assert p["default.replication.factor"] == "3"
    assert p["offsets.topic.replication.factor"] == "3"
    assert p["transaction.state.log.replication.factor"] == "3"
    assert p["min.insync.replicas"] == "2"
    assert p["unclean.leader.election.enable"] == "false"
    assert p["auto.create.topics.enable"] == "false"
    assert p["broker.rack"] == "us-east-1a"
    assert p["zookeeper.connect"].endswith("/owp-kafka")
    assert p["advertised.listeners"] == "PLAINTEXT://10.40.128.20:9092"
    assert "process.roles" not in p
    # Added at boot by owp-kafka-node, never baked into the shared policy.
    assert "broker.id" not in p and "log.dirs" not in p


def test_secure_brokers_listen_sasl_ssl_only_and_deny_without_an_acl():
    p = properties(render_file(TEMPLATES / "server.properties.tftpl", {**BROKER, "secure": True}))
    assert p["listeners"] == "SASL_SSL://0.0.0.0:9092"
    assert p["advertised.listeners"] == "SASL_SSL://10.40.128.20:9092"
    assert p["inter.broker.listener.name"] == "SASL_SSL"
    assert p["sasl.enabled.mechanisms"] == p["sasl.mechanism.inter.broker.protocol"] == "SCRAM-SHA-512"
    assert p["authorizer.class.name"] == "kafka.security.authorizer.AclAuthorizer"
    assert p["allow.everyone.if.no.acl.found"] == "false"
    assert p["super.users"] == "User:kafka-broker"
    assert p["ssl.keystore.location"] == "/etc/kafka/tls/broker.pem"
    # The broker's password is read from a file at start, never written into this one.
    jaas = p["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"]
    assert 'password="${file:/etc/kafka/tls/broker-secret.properties:password}"' in jaas
    assert "PLAINTEXT://" not in p["listeners"] + p["advertised.listeners"]


ACLS = {"commands_topic": "owp.commands.v1", "events_topic": "owp.events.v1", "deadletter_topic": "owp.deadletter.v1",
        "group_prefix": "owp.robot.", "admin_prefix": "owp"}


def test_each_principal_gets_only_its_own_grants():
    lines = [line.split() for line in render_file(TEMPLATES / "kafka-acls.tftpl", ACLS).splitlines()
             if line.strip() and not line.startswith("#")]
    assert all(len(line) == 5 for line in lines), lines
    grants = {}
    for principal, resource, pattern, name, operations in lines:
        assert resource in ("topic", "group") and pattern in ("literal", "prefixed"), line
        grants.setdefault(principal, set()).update((resource, name, op) for op in operations.split(","))
    assert grants["writepoint"] == {("topic", "owp.commands.v1", "Write"), ("topic", "owp.commands.v1", "Describe")}
    assert grants["auth"] == {("topic", "owp.events.v1", "Write"), ("topic", "owp.events.v1", "Describe")}
    assert ("topic", "owp.commands.v1", "Write") not in grants["robots"]
    assert set(grants) == {"writepoint", "auth", "robots", "owp-admin"}


def test_broker_properties_in_kraft_mode():
    p = properties(render_file(TEMPLATES / "server.properties.tftpl", {**BROKER, "metadata_mode": "kraft"}))
    assert p["process.roles"] == "broker"
    assert p["controller.quorum.voters"].startswith("3001@")
    assert "zookeeper.connect" not in p
    assert p["min.insync.replicas"] == "2"


def test_controller_properties():
    p = properties(render_file(TEMPLATES / "kafka-controller.properties.tftpl", {
        "controller_quorum_voters": BROKER["controller_quorum_voters"],
        "listen_host": "10.40.128.10",
        "controller_port": 9093,
    }))
    assert p["process.roles"] == "controller"
    assert p["listeners"] == "CONTROLLER://10.40.128.10:9093"


def zookeeper_cfg(servers, **overrides):
    values = {
        "data_dir": "/var/lib/zookeeper/data",
        "data_log_dir": "/var/lib/zookeeper/txlog",
        "client_port": 2181,
        "client_address": "0.0.0.0",
        "servers": servers,
    }
    values.update(overrides)
    return render_file(TEMPLATES / "zookeeper.cfg.tftpl", values)


def test_zookeeper_cfg_for_five_nodes():
    servers = [{"id": i, "host": f"10.0.{i}.10", "peer_port": 2888, "election_port": 3888} for i in range(1, 6)]
    p = properties(zookeeper_cfg(servers))
    assert [k for k in p if k.startswith("server.")] == [f"server.{i}" for i in range(1, 6)]
    assert p["server.5"] == "10.0.5.10:2888:3888"
    assert p["dataLogDir"] != p["dataDir"]
    assert p["4lw.commands.whitelist"] == "srvr,stat,ruok,mntr"


def test_modules_pass_every_template_variable():
    """Each templatefile() call sets exactly the names its template uses."""
    import re
    for tf in (TERRAFORM / "modules").rglob("main.tf"):
        text = tf.read_text()
        for m in re.finditer(r'templatefile\("\$\{path\.module\}/\.\./\.\./templates/([^"]+)", \{(.*?)\n\s*\}\)', text, re.S):
            template, body = m.group(1), m.group(2)
            passed = set(re.findall(r"^\s*([a-z_]+)\s*=", body, re.M))
            # $${ and %%{ are escapes (text for the program the template renders), not variables.
            source = (TEMPLATES / template).read_text().replace("$${", "").replace("%%{", "")
            used = set(re.findall(r"\$\{([a-z_]+)", source)) | set(re.findall(r"%\{ (?:if|for \w+ in) ([a-z_]+)", source))
            loop_vars = set(re.findall(r"%\{ for (\w+) in", source))
            assert used - loop_vars <= passed, f"{tf}: {template} needs {sorted(used - loop_vars - passed)}"


USER_DATA = {
    "zookeeper-user-data.sh.tftpl": [
        {"metadata_mode": "zookeeper"},
        {"metadata_mode": "kraft"},
    ],
    "kafka-user-data.sh.tftpl": [{"secure": False}, {"secure": True}],
    "app-user-data.sh.tftpl": [{}],
}
COMMON = {
    "region": "us-east-1", "log_group": "/owp/dev-alice/journal", "heap": "512m", "myid": 2,
    "cluster_id": "AAAAAAAAAAAAAAAAAAAAAA", "environment": "dev-alice", "kafka_brokers": "10.0.0.1:9092",
    "read_store": "https://vpc-x.us-east-1.es.amazonaws.com", "writepoint_port": 8080, "readpoint_port": 8081,
    "auth_port": 8082, "releases_bucket": "owp-dev-alice-releases-1", "log_group_arn": "x",
    "database_secret_arn": "arn:aws:secretsmanager:us-east-1:1:secret:owp",
    "database_service_secrets": "owp_robots=arn:r,owp_auth=arn:a,owp_translator=arn:t,owp_readpoint=arn:p",
    "target_group_arns": "arn:a,arn:b",
    "data_device": "/dev/sdf", "topic_replication": 3, "autoscaling_group": "owp-dev-alice-app",
    "launch_hook": "owp-release-installed", "metrics_namespace": "OWP/dev-alice", "node_role": "zookeeper",
    "session_log_group_arn": "x", "broker_ip": "10.40.128.20", "port": 9092,
    "zookeeper_connect": "10.0.0.10:2181/owp-kafka", "tls_dir": "/etc/kafka/tls", "broker_user": "kafka-broker",
    "users_secret": "arn:aws:secretsmanager:us-east-1:1:secret:owp/kafka-users",
    "ca_secret": "arn:aws:secretsmanager:us-east-1:1:secret:owp/kafka-ca",
    "ca_version_token": "00000000-0000-4000-8000-00000000ca01", "ca_parameter": "/owp/x/kafka/ca-certificate",
    "kafka_protocol": "SASL_SSL", "kafka_clients": "arn:aws:secretsmanager:us-east-1:1:secret:owp/kafka-clients",
    "kafka_ca_parameter": "/owp/x/kafka/ca-certificate",
}


@pytest.mark.parametrize("template,overrides", [(t, o) for t, os_ in USER_DATA.items() for o in os_],
                         ids=lambda v: v if isinstance(v, str) else v.get("metadata_mode", ""))
def test_user_data_renders_to_valid_bash(tmp_path, template, overrides):
    values = {**COMMON, **overrides}
    values["zookeeper_cfg"] = zookeeper_cfg([{"id": 1, "host": "10.0.0.10", "peer_port": 2888, "election_port": 3888}])
    values["controller_properties"] = "process.roles=controller"
    values["server_properties"] = render_file(TEMPLATES / "server.properties.tftpl",
                                              {**BROKER, "secure": overrides.get("secure", False)})
    values["acls"] = render_file(TEMPLATES / "kafka-acls.tftpl", ACLS)
    script = tmp_path / "user-data.sh"
    script.write_text(render_file(TEMPLATES / template, values))
    subprocess.run(["bash", "-n", script], check=True)
    if shutil.which("shellcheck"):
        subprocess.run(["shellcheck", "-s", "bash", script], check=True)
    text = script.read_text()
    assert text.startswith("#!/bin/bash\n") and "set -euo pipefail" in text
    assert "systemctl enable --now" in text
    if overrides.get("metadata_mode") == "zookeeper":
        assert "server.1=10.0.0.10:2888:3888" in text and "zookeeper.service" in text
        # myid goes to /etc; the boot unit puts it on the data volume once it is mounted
        # (written under /var/lib/zookeeper before the mount, it would be hidden by it).
        assert "/etc/zookeeper/owp/myid" in text and "/var/lib/zookeeper/data/myid" not in text
    if template == "kafka-user-data.sh.tftpl" or overrides.get("metadata_mode") == "kraft":
        assert "OWP_KAFKA_DATA_DEVICE=/dev/sdf" in text
    if overrides.get("metadata_mode") == "kraft":
        assert "process.roles=controller" in text and "kafka.service" in text
    if template == "kafka-user-data.sh.tftpl" and overrides["secure"]:
        # The SCRAM users exist before Kafka starts; the ACLs go in once it serves; no password
        # is in the user data, only where to fetch them.
        assert text.index("kafka.admin.ConfigCommand") < text.index("systemctl enable --now") < text.index("AclCommand")
        assert "writepoint topic literal owp.commands.v1 Write,Describe" in text
        python = text.split("python3 - <<'OWP_EOF'\n", 1)[1].split("\nOWP_EOF", 1)[0]
        compile(python, "kafka-user-data (python)", "exec")
    if template == "kafka-user-data.sh.tftpl" and not overrides["secure"]:
        assert "AclCommand" not in text and "secretsmanager" not in text
