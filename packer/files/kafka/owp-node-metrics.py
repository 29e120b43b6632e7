#!/usr/bin/python3
"""Publishes a Kafka or ZooKeeper node's health to CloudWatch, once a minute.

The alarms of terraform/modules/kafka and zookeeper watch these metrics (namespace
OWP_METRICS_NAMESPACE, one dimension Cluster=kafka|zookeeper, no per-node dimension: every
node's datapoint lands in the same series, so Maximum is the worst node and Sum counts nodes).
Each datapoint is stamped with the start of its minute and owp-node-metrics.timer fires once at
every minute, so a Sum over 60 seconds counts each node exactly once.

  broker      UnderReplicatedPartitions, OfflinePartitionsCount, ActiveControllerCount,
              UnderMinIsrPartitionCount (JMX, 127.0.0.1:9999), DataVolumeUsedPercent
  controller  ActiveControllerCount (JMX), DataVolumeUsedPercent (KRaft metadata nodes)
  zookeeper   ZooKeeperServing, ZooKeeperLeader (srvr on the client port), DataVolumeUsedPercent

A node whose process does not answer publishes nothing for it: the alarms treat missing data as
breaching where silence means trouble. It must never change anything on the node.
"""

import csv
import datetime
import io
import os
import socket
import subprocess
import sys

JMX_URL = "service:jmx:rmi:///jndi/rmi://127.0.0.1:9999/jmxrmi"
MBEANS = {
    "UnderReplicatedPartitions": "kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions",
    "UnderMinIsrPartitionCount": "kafka.server:type=ReplicaManager,name=UnderMinIsrPartitionCount",
    "OfflinePartitionsCount": "kafka.controller:type=KafkaController,name=OfflinePartitionsCount",
    "ActiveControllerCount": "kafka.controller:type=KafkaController,name=ActiveControllerCount",
}
ROLE_MBEANS = {
    "broker": list(MBEANS),
    "controller": ["ActiveControllerCount"],
}
ROLE_DIRS = {
    "broker": ["/var/lib/kafka/d0"],
    "controller": ["/var/lib/kafka/d0"],
    "zookeeper": ["/var/lib/zookeeper/txlog", "/var/lib/zookeeper/data"],
}
CLUSTER = {"broker": "kafka", "controller": "kafka", "zookeeper": "zookeeper"}


def parse_jmx_csv(text):
    """JmxTool's csv report (a header and one row) as {mbean: value}."""
    rows = [r for r in csv.reader(io.StringIO(text)) if r]
    if len(rows) < 2:
        return {}
    header, values = rows[0], rows[-1]
    out = {}
    for name, value in zip(header, values):
        mbean = name.rsplit(":", 1)[0] if name.endswith(":Value") else name
        try:
            out[mbean] = float(value)
        except ValueError:
            pass
    return out


def kafka_values(jmx, role):
    """(metric, value) for the role's MBeans that JmxTool answered."""
    return [(m, jmx[MBEANS[m]]) for m in ROLE_MBEANS[role] if MBEANS[m] in jmx]


def zookeeper_values(srvr):
    """(metric, value) from a srvr answer; nothing when the member does not serve."""
    mode = next((line.split(":", 1)[1].strip() for line in srvr.splitlines() if line.startswith("Mode:")), None)
    if mode not in ("leader", "follower", "standalone"):
        return [("ZooKeeperServing", 0.0), ("ZooKeeperLeader", 0.0)]
    return [("ZooKeeperServing", 1.0), ("ZooKeeperLeader", 1.0 if mode == "leader" else 0.0)]


def used_percent(paths, statvfs=os.statvfs):
    """The fullest of the mounted data directories, in percent."""
    worst = None
    for path in paths:
        try:
            st = statvfs(path)
        except OSError:
            continue
        if st.f_blocks:
            used = 100.0 * (st.f_blocks - st.f_bavail) / st.f_blocks
            worst = used if worst is None else max(worst, used)
    return worst


def metric_data(values, cluster, at):
    """PutMetricData entries, all stamped with the start of the minute."""
    minute = at.replace(second=0, microsecond=0)
    return [
        {"MetricName": name, "Dimensions": [{"Name": "Cluster", "Value": cluster}],
         "Timestamp": minute, "Value": value, "Unit": "Percent" if name.endswith("Percent") else "Count"}
        for name, value in values
    ]


def read_jmx(names):  # pragma: no cover - needs a running broker
    args = ["/opt/kafka/bin/kafka-run-class.sh", "org.apache.kafka.tools.JmxTool", "--jmx-url", JMX_URL,
            "--one-time", "true", "--report-format", "csv", "--attributes", "Value"]
    for name in names:
        args += ["--object-name", MBEANS[name]]
    env = {k: v for k, v in os.environ.items() if k != "JMX_PORT"}  # the tool must not open JMX itself
    env["KAFKA_HEAP_OPTS"] = "-Xmx64m"
    result = subprocess.run(args, capture_output=True, text=True, timeout=45, env=env)
    return parse_jmx_csv(result.stdout) if result.returncode == 0 else {}


def read_srvr(port=2181):  # pragma: no cover - needs a running member
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"srvr")
            return b"".join(iter(lambda: s.recv(4096), b"")).decode()
    except OSError:
        return ""


def main():  # pragma: no cover - needs AWS and a node
    import boto3

    role = os.environ["OWP_NODE_ROLE"]
    namespace = os.environ["OWP_METRICS_NAMESPACE"]
    at = datetime.datetime.now(datetime.timezone.utc)
    if role == "zookeeper":
        values = zookeeper_values(read_srvr())
    else:
        values = kafka_values(read_jmx(ROLE_MBEANS[role]), role)
    disk = used_percent(ROLE_DIRS[role])
    if disk is not None:
        values.append(("DataVolumeUsedPercent", disk))
    if values:
        boto3.client("cloudwatch").put_metric_data(Namespace=namespace, MetricData=metric_data(values, CLUSTER[role], at))
    print("owp-node-metrics: " + ", ".join(f"{n}={v:g}" for n, v in values), file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    main()
