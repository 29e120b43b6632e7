"""owp-node-health, the gate of a rolling replacement (terraform/env roll) and of the
runbooks: against stand-ins for Kafka's tools it must tell a healthy cluster from one with
under-replicated partitions or without this broker; against stand-in ZooKeeper members on
three loopback addresses (one client port, as on AWS) it must read zoo.cfg and demand exactly
one leader with every member serving. The real ensemble is checked in
test_zookeeper_ensemble.py."""

import os
import socket
import threading

import pytest

from conftest import PACKER, run

HEALTH = PACKER / "files/kafka/owp-node-health"

API_VERSIONS = """#!/bin/sh
echo "10.40.128.52:9092 (id: 1 rack: us-east-1a) -> ("
echo "10.40.144.52:9092 (id: ${FAKE_SECOND_BROKER:-2} rack: us-east-1b) -> ("
"""
TOPICS = """#!/bin/sh
case "$*" in
  *under-replicated*) [ -n "$FAKE_URP" ] && echo "	Topic: owp.events.v1	Partition: 3	Leader: 1	Replicas: 1,2,3	Isr: 1,3" ;;
esac
exit 0
"""


@pytest.fixture
def kafka_root(tmp_path):
    bin_dir = tmp_path / "opt/kafka/bin"
    bin_dir.mkdir(parents=True)
    for name, text in (("kafka-broker-api-versions.sh", API_VERSIONS), ("kafka-topics.sh", TOPICS)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    props = tmp_path / "run/owp-kafka/server.properties"
    props.parent.mkdir(parents=True)
    props.write_text("zookeeper.connect=x\n\n# Added at boot by owp-kafka-node.\nbroker.id=2\nlog.dirs=/var/lib/kafka/d0\n")
    return tmp_path


def health(root, *args, **env):
    return run(["bash", HEALTH, *args], env={**os.environ, "ROOT": str(root), **env}, check=False)


def test_kafka_healthy(kafka_root):
    result = health(kafka_root, "kafka")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "healthy: broker 2 registered" in result.stdout


def test_kafka_under_replicated_is_not_healthy(kafka_root):
    result = health(kafka_root, "kafka", FAKE_URP="1")
    assert result.returncode == 1
    assert "1 partitions are under-replicated-partitions" in result.stdout


def test_kafka_broker_not_registered_is_not_healthy(kafka_root):
    result = health(kafka_root, "kafka", FAKE_SECOND_BROKER="3")
    assert result.returncode == 1 and "broker 2 is not registered" in result.stdout


def test_usage():
    assert run(["bash", HEALTH, "postgres"], check=False).returncode == 2


class FakeMember(threading.Thread):
    """Answers ZooKeeper's srvr with a mode, on one loopback address."""

    def __init__(self, host, port, mode):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen()
        self.mode = mode

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(16)
                if self.mode:
                    conn.sendall(f"Zookeeper version: 3.8.4\nMode: {self.mode}\nNode count: 5\n".encode())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("modes,healthy", [
    (["follower", "leader", "follower"], True),
    (["follower", None, "leader"], False),        # a member does not serve
    (["follower", "follower", "follower"], False),  # no leader
])
def test_zookeeper_quorum(tmp_path, modes, healthy):
    port = free_port()
    hosts = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    members = [FakeMember(h, port, m) for h, m in zip(hosts, modes)]
    for m in members:
        m.start()
    cfg = tmp_path / "etc/zookeeper/owp/zoo.cfg"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(f"clientPort={port}\n" + "".join(f"server.{i + 1}={h}:2888:3888\n" for i, h in enumerate(hosts)))
    try:
        result = health(tmp_path, "zookeeper", "--timeout", "2")
    finally:
        for m in members:
            m.sock.close()
    assert (result.returncode == 0) == healthy, result.stdout
    if healthy:
        assert "one leader, 2 followers" in result.stdout
