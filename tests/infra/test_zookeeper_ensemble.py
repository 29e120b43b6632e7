"""A real ZooKeeper ensemble: three Debian ZooKeeper 3.8 servers on
loopback ports, configured from terraform/templates/zookeeper.cfg.tftpl
(the template the user data renders on AWS). One leader and two followers
must emerge; after the leader is stopped, a new leader must be elected."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import TEMPLATES
from tftpl import render_file

ZOOKEEPER_JAR = Path("/usr/share/java/zookeeper.jar")
# Debian's zookeeper.jar has no logging binding; these send logs to stdout.
CLASSPATH = ":".join([
    "/etc/zookeeper/conf",
    str(ZOOKEEPER_JAR),
    "/usr/share/java/slf4j-log4j12.jar",
    "/usr/share/java/log4j-1.2.jar",
])
DEADLINE_SECONDS = 120


def free_ports(count):
    """Distinct free loopback ports (held open together so none repeats)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def four_letter(port, word=b"srvr"):
    """The answer to a four-letter word, or None while the server is not up."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(word)
            chunks = []
            while True:
                data = s.recv(4096)
                if not data:
                    break
                chunks.append(data)
        return b"".join(chunks).decode()
    except OSError:
        return None


def mode(port):
    answer = four_letter(port)
    if not answer:
        return None
    for line in answer.splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    return None  # "This ZooKeeper instance is not currently serving requests"


def await_roles(nodes, deadline_s=DEADLINE_SECONDS):
    """Poll srvr until exactly one leader and the rest followers; return roles."""
    deadline = time.monotonic() + deadline_s
    roles = {}
    while time.monotonic() < deadline:
        roles = {n["id"]: mode(n["client_port"]) for n in nodes}
        values = list(roles.values())
        if values.count("leader") == 1 and values.count("follower") == len(nodes) - 1:
            return roles
        time.sleep(0.2)
    logs = "\n".join(f"--- node {n['id']}\n" + n["log"].read_text()[-3000:] for n in nodes)
    pytest.fail(f"no leader with {len(nodes) - 1} followers within {deadline_s}s: {roles}\n{logs}")


@pytest.fixture
def ensemble(tmp_path):
    if not ZOOKEEPER_JAR.exists():
        pytest.fail("Debian's zookeeper package is not installed (scripts/test-infra installs it)")
    ports = free_ports(9)
    nodes = [
        {"id": i + 1, "client_port": ports[3 * i], "peer_port": ports[3 * i + 1], "election_port": ports[3 * i + 2]}
        for i in range(3)
    ]
    servers = [{"id": n["id"], "host": "127.0.0.1", "peer_port": n["peer_port"], "election_port": n["election_port"]} for n in nodes]
    procs = []
    try:
        for n in nodes:
            base = tmp_path / f"zk{n['id']}"
            (base / "data").mkdir(parents=True)
            (base / "txlog").mkdir()
            (base / "data" / "myid").write_text(f"{n['id']}\n")
            cfg = base / "zoo.cfg"
            cfg.write_text(render_file(TEMPLATES / "zookeeper.cfg.tftpl", {
                "data_dir": str(base / "data"),
                "data_log_dir": str(base / "txlog"),
                "client_port": n["client_port"],
                "client_address": "127.0.0.1",
                "servers": servers,
            }))
            n["log"] = base / "server.log"
            with open(n["log"], "wb") as log:
                n["proc"] = subprocess.Popen(
                    [
                        "java", "-Xms64m", "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                        "-Dzookeeper.root.logger=INFO,CONSOLE",
                        "-Dlog4j.configuration=file:/etc/zookeeper/conf/log4j.properties",
                        "-cp", CLASSPATH,
                        "org.apache.zookeeper.server.quorum.QuorumPeerMain", str(cfg),
                    ],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            procs.append(n["proc"])
        yield nodes
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
        for p in procs:
            p.wait(timeout=30)


def test_three_node_ensemble_elects_and_reelects_a_leader(ensemble):
    roles = await_roles(ensemble)
    leader_id = next(i for i, r in roles.items() if r == "leader")
    assert sorted(roles.values()) == ["follower", "follower", "leader"]
    leader = next(n for n in ensemble if n["id"] == leader_id)
    assert four_letter(leader["client_port"], b"ruok") == "imok"

    # Stop the leader the way systemd would (SIGTERM) and wait for it to go.
    leader["proc"].terminate()
    leader["proc"].wait(timeout=30)
    survivors = [n for n in ensemble if n["id"] != leader_id]
    new_roles = await_roles(survivors)
    new_leader = next(i for i, r in new_roles.items() if r == "leader")
    assert new_leader != leader_id
    assert sorted(new_roles.values()) == ["follower", "leader"]
