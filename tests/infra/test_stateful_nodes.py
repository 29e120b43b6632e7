"""The brokers and metadata nodes keep what makes them that node (terraform/modules/kafka and
zookeeper, checked on the parsed HCL): instances ignore AMI and user data changes (rolled one at
a time instead), data lives on separate EBS volumes and addresses on separate network
interfaces, both under prevent_destroy outside engineer environments, and the device names
Terraform attaches are the ones the boot units mount."""

import re

import pytest

from conftest import PACKER, TERRAFORM, TEMPLATES, blocks

MODULES = TERRAFORM / "modules"
NODE_MODULES = {"kafka": "broker", "zookeeper": "node"}


def resources(module):
    return {(t, n): b for (t, n, b) in blocks(MODULES / module / "main.tf", "resource")}


@pytest.mark.parametrize("module,instance", NODE_MODULES.items())
def test_instances_ignore_ami_and_user_data_and_own_no_data(module, instance):
    body = resources(module)[("aws_instance", instance)]
    ignored = {a.strip("${}") for a in body["lifecycle"][0]["ignore_changes"]}
    assert {"ami", "user_data", "user_data_base64"} <= ignored
    assert body["user_data_replace_on_change"] is False
    # The address comes from the node's own interface, the data from its own volumes.
    assert "private_ip" not in body and "subnet_id" not in body and "vpc_security_group_ids" not in body
    assert body["network_interface"][0]["device_index"] == 0
    assert "ebs_block_device" not in body and "ephemeral_block_device" not in body
    assert "pinned_ami_ids" in body["ami"] or "ami_id" in body["ami"]


@pytest.mark.parametrize("module", NODE_MODULES)
@pytest.mark.parametrize("kind", ["aws_ebs_volume", "aws_network_interface"])
def test_node_data_is_protected_outside_engineer_environments(module, kind):
    res = resources(module)
    protected, disposable = res[(kind, "protected")], res[(kind, "disposable")]
    assert protected["lifecycle"][0]["prevent_destroy"] is True
    assert "lifecycle" not in disposable or "prevent_destroy" not in disposable["lifecycle"][0]
    gate = [protected.get("count", protected.get("for_each")), disposable.get("count", disposable.get("for_each"))]
    assert all(g.startswith("${var.protect_data ? ") for g in gate), gate
    # Exactly one variant exists: the two conditions are mirror images.
    p_then, p_else = gate[0][len("${var.protect_data ? "):-1].split(" : ")
    d_then, d_else = gate[1][len("${var.protect_data ? "):-1].split(" : ")
    assert (p_then, p_else) == (d_else, d_then)
    assert [v for (t, n), v in res.items() if t == kind] == [protected, disposable]
    if kind == "aws_ebs_volume":
        for body in (protected, disposable):
            assert body["encrypted"] is True and body["kms_key_id"] == "${var.kms_key_arn}" and body["type"] == "gp3"


def test_only_engineer_environments_go_without_protection():
    stack = (MODULES / "stack/main.tf").read_text()
    assert 'protect_data = !startswith(var.environment, "dev-")' in stack
    assert len(re.findall(r"^\s+protect_data\s+= local\.protect_data$", stack, re.M)) == 2
    for module in NODE_MODULES:
        (name, body), = [(n, b) for n, b in blocks(MODULES / module / "variables.tf", "variable") if n == "protect_data"]
        assert body["default"] is True


def test_volume_attachments_stop_the_instance_first():
    for module in NODE_MODULES:
        (body,) = [b for (t, n), b in resources(module).items() if t == "aws_volume_attachment"]
        assert body["stop_instance_before_detaching"] is True


def test_device_names_agree_with_the_boot_units():
    kafka_vars = dict(blocks(MODULES / "kafka/variables.tf", "variable"))
    assert kafka_vars["data_device_name"]["default"] == "/dev/sdf"
    assert re.search(r"data_device\s+= var\.data_device_name", (MODULES / "kafka/main.tf").read_text())
    for template in ("kafka-user-data.sh.tftpl", "zookeeper-user-data.sh.tftpl"):
        assert "OWP_KAFKA_DATA_DEVICE=${data_device}" in (TEMPLATES / template).read_text()
    assert "EnvironmentFile=-/etc/kafka/node.env" in (PACKER / "files/kafka/owp-kafka-node.service").read_text()
    zk = (MODULES / "zookeeper/main.tf").read_text()
    disks = dict(re.findall(r'(\w+)\s+= \{ device = "(/dev/sd[a-z])"', zk))
    assert disks == {"txlog": "/dev/sdf", "data": "/dev/sdg", "metadata": "/dev/sdh"}
    unit = (PACKER / "files/zookeeper/owp-zookeeper-disk.service").read_text()
    assert f"--txlog-device {disks['txlog']} --data-device {disks['data']}" in unit
    assert re.search(r"data_device\s+= local\.disks\.metadata\.device", zk)
    script = (PACKER / "files/zookeeper/owp-zookeeper-node").read_text()
    assert f"txlog_device={disks['txlog']}" in script and f"data_device={disks['data']}" in script
    cfg = (MODULES / "zookeeper/main.tf").read_text()
    assert re.search(r'data_dir\s+= "/var/lib/zookeeper/data"', cfg) and re.search(r'data_log_dir\s+= "/var/lib/zookeeper/txlog"', cfg)


def test_fixed_addresses_come_from_the_reserved_range():
    network = (MODULES / "network/main.tf").read_text()
    assert 'reservation_type = "explicit"' in network
    assert "cidrsubnet(c, 27 - tonumber(split(\"/\", c)[1]), 1)" in network
    outputs = (MODULES / "network/outputs.tf").read_text()
    assert "aws_ec2_subnet_cidr_reservation.static[*].subnet_id" in outputs
    for module in NODE_MODULES:
        text = (MODULES / module / "main.tf").read_text()
        assert "cidrhost(var.static_cidrs[" in text and "subnet_cidrs" not in text
