"""owp-kafka-node, the Kafka image's boot step, run into a throwaway root
against a fake IMDSv2 on a loopback port: it must take the node id from
the instance tag (with a session token, as IMDSv2 requires), append it and
the log directory to the rendered policy, format KRaft storage, and refuse a
data volume that holds another node's log. owp-zookeeper-node, the ZooKeeper
image's boot step, must install myid and refuse another node's data volume."""

import http.server
import os
import threading

import pytest

from conftest import PACKER, TEMPLATES, run
from tftpl import render_file
from test_templates import BROKER

SCRIPT = PACKER / "files/kafka/owp-kafka-node"
TOKEN = "test-token"


class FakeImds(http.server.BaseHTTPRequestHandler):
    tags = {}

    def do_PUT(self):
        if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            self._send(200, TOKEN)
        else:
            self._send(400, "")

    def do_GET(self):
        if self.headers.get("X-aws-ec2-metadata-token") != TOKEN:
            self._send(401, "")  # IMDSv1 is disabled on our instances
            return
        prefix = "/latest/meta-data/tags/instance/"
        if self.path.startswith(prefix) and self.path[len(prefix):] in self.tags:
            self._send(200, self.tags[self.path[len(prefix):]])
        else:
            self._send(404, "")

    def _send(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def imds():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeImds)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    FakeImds.tags = {}


def node(root, imds, *args):
    env = {**os.environ, "ROOT": str(root)}
    url = f"http://127.0.0.1:{imds.server_address[1]}"
    return run(["bash", SCRIPT, "--imds", url, *args], env=env, check=False)


def write(root, rel, text):
    f = root / rel
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(text)
    return f


def test_broker_id_from_the_instance_tag(tmp_path, imds):
    FakeImds.tags = {"OwpNodeId": "2"}
    write(tmp_path, "etc/kafka/server.properties", render_file(TEMPLATES / "server.properties.tftpl", BROKER))
    result = node(tmp_path, imds)
    assert result.returncode == 0, result.stderr
    out = (tmp_path / "run/owp-kafka/server.properties").read_text()
    assert "broker.id=2\n" in out and "log.dirs=/var/lib/kafka/d0\n" in out
    assert "min.insync.replicas=2" in out and "unclean.leader.election.enable=false" in out
    assert (tmp_path / "var/lib/kafka/d0").is_dir()


def test_missing_tag_fails_instead_of_guessing(tmp_path, imds):
    write(tmp_path, "etc/kafka/server.properties", "zookeeper.connect=x\n")
    result = node(tmp_path, imds)
    assert result.returncode != 0 and "OwpNodeId" in result.stderr


def test_kraft_controller_gets_node_id_and_formatted_storage(tmp_path, imds):
    FakeImds.tags = {"OwpNodeId": "3001"}
    write(tmp_path, "etc/kafka/server.properties", render_file(TEMPLATES / "kafka-controller.properties.tftpl", {
        "controller_quorum_voters": "3001@10.0.0.10:9093", "listen_host": "10.0.0.10", "controller_port": 9093}))
    write(tmp_path, "etc/kafka/cluster-id", "AAAAAAAAAAAAAAAAAAAAAA\n")
    calls = tmp_path / "storage-calls"
    storage = write(tmp_path, "opt/kafka/bin/kafka-storage.sh", f'#!/bin/sh\necho "$@" >> {calls}\n')
    storage.chmod(0o755)
    result = node(tmp_path, imds)
    assert result.returncode == 0, result.stderr
    out = (tmp_path / "run/owp-kafka/server.properties").read_text()
    assert "node.id=3001\n" in out and "broker.id" not in out
    args = calls.read_text()
    assert "format --ignore-formatted -t AAAAAAAAAAAAAAAAAAAAAA" in args


def test_explicit_node_id_needs_no_imds(tmp_path, imds):
    write(tmp_path, "etc/kafka/server.properties", "zookeeper.connect=x\n")
    result = node(tmp_path, imds, "--node-id", "7")
    assert result.returncode == 0, result.stderr
    assert "broker.id=7" in (tmp_path / "run/owp-kafka/server.properties").read_text()


def test_a_volume_of_another_broker_is_refused(tmp_path, imds):
    FakeImds.tags = {"OwpNodeId": "2"}
    write(tmp_path, "etc/kafka/server.properties", render_file(TEMPLATES / "server.properties.tftpl", BROKER))
    write(tmp_path, "var/lib/kafka/d0/meta.properties", "version=0\nbroker.id=3\ncluster.id=x\n")
    result = node(tmp_path, imds)
    assert result.returncode != 0 and "node 3" in result.stderr and "node 2" in result.stderr
    assert not (tmp_path / "run/owp-kafka/server.properties").exists()
    # Its own volume from a previous instance is taken as it is.
    write(tmp_path, "var/lib/kafka/d0/meta.properties", "version=0\nbroker.id=2\ncluster.id=x\n")
    assert node(tmp_path, imds).returncode == 0


ZK_NODE = PACKER / "files/zookeeper/owp-zookeeper-node"


def zk_node(root):
    return run(["bash", ZK_NODE], env={**os.environ, "ROOT": str(root)}, check=False)


def test_zookeeper_node_installs_myid_and_keeps_it(tmp_path):
    write(tmp_path, "etc/zookeeper/owp/myid", "2\n")
    assert zk_node(tmp_path).returncode == 0
    assert (tmp_path / "var/lib/zookeeper/data/myid").read_text() == "2\n"
    assert (tmp_path / "var/lib/zookeeper/txlog").is_dir()
    # A later boot of the same node (or its successor with its volume) is fine.
    assert zk_node(tmp_path).returncode == 0


def test_zookeeper_node_refuses_another_nodes_volume(tmp_path):
    write(tmp_path, "etc/zookeeper/owp/myid", "2\n")
    write(tmp_path, "var/lib/zookeeper/data/myid", "3\n")
    result = zk_node(tmp_path)
    assert result.returncode != 0 and "myid 3" in result.stderr
    assert (tmp_path / "var/lib/zookeeper/data/myid").read_text() == "3\n"
