"""The local stack runs the servers production runs: scripts/stack/pom.xml (the
one place their versions live) names the Kafka that packer/kafka.pkr.hcl bakes,
and a ZooKeeper of the line the ZooKeeper image installs."""

import re
import xml.etree.ElementTree as ET

from conftest import PACKER, REPO

POM = REPO / "scripts" / "stack" / "pom.xml"
NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def pom_property(name):
    node = ET.parse(POM).getroot().find(f"m:properties/m:{name}", NS)
    assert node is not None, f"{POM} has no <{name}>"
    return node.text.strip()


def packer_default(template, variable):
    text = (PACKER / template).read_text()
    block = re.search(r'variable "%s" \{(.*?)\n\}' % variable, text, re.S)
    assert block, f"{template} has no variable {variable}"
    default = re.search(r'default\s*=\s*"([^"]+)"', block.group(1))
    assert default, f"{template}: {variable} has no default"
    return default.group(1)


def test_local_kafka_is_the_baked_kafka():
    assert pom_property("kafka.version") == packer_default("kafka.pkr.hcl", "kafka_version")


def test_local_zookeeper_is_the_baked_line():
    line = packer_default("zookeeper.pkr.hcl", "zookeeper_version")
    assert pom_property("zookeeper.version").startswith(line + ".")


def test_opensearch_is_a_2_x_release():
    # terraform/modules/search accepts OpenSearch_2.x domains.
    assert re.fullmatch(r"2\.\d+\.\d+", pom_property("opensearch.version"))
