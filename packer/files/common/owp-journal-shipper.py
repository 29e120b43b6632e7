#!/usr/bin/python3
"""Ships journald entries of selected units to CloudWatch Logs.

One log stream per instance and unit (``<instance-id>/<unit>``) in the log
group named by OWP_LOG_GROUP. The journal cursor is stored only after
CloudWatch accepted a batch, so a restart re-sends at most one batch: the
same at-least-once rule as the rest of the pipeline. This program must never
write to the journal it reads from in a loop (it logs to stderr sparingly)
and must never drop the cursor ahead of what was delivered.

Uses Debian's python3-systemd and python3-boto3; both are imported lazily so
the batching logic can be tested without them.
"""

import json
import os
import sys
import time
import urllib.request

# CloudWatch Logs PutLogEvents limits (per request): 10,000 events,
# 1,048,576 bytes counting 26 bytes of overhead per event, 256 KiB per event.
MAX_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
MAX_EVENT_BYTES = 256 * 1024 - EVENT_OVERHEAD
FLUSH_SECONDS = 5.0


def wanted(unit, prefixes):
    """True when a journal entry's unit is one we ship."""
    return bool(unit) and any(unit.startswith(p) for p in prefixes)


def truncate(message):
    """Cut a message to CloudWatch's per-event size, on a UTF-8 boundary."""
    raw = message.encode("utf-8")
    if len(raw) <= MAX_EVENT_BYTES:
        return message
    return raw[:MAX_EVENT_BYTES].decode("utf-8", errors="ignore")


def batches(events):
    """Split (stream, timestamp_ms, message) tuples into PutLogEvents batches.

    Yields (stream, [{"timestamp":..., "message":...}, ...]) with every
    batch inside the request limits and in timestamp order, as CloudWatch
    requires. Order across streams does not matter to CloudWatch.
    """
    per_stream = {}
    for stream, ts, message in events:
        per_stream.setdefault(stream, []).append((ts, truncate(message)))
    for stream, items in per_stream.items():
        items.sort(key=lambda item: item[0])
        batch, size = [], 0
        for ts, message in items:
            cost = len(message.encode("utf-8")) + EVENT_OVERHEAD
            if batch and (len(batch) == MAX_EVENTS or size + cost > MAX_BATCH_BYTES):
                yield stream, batch
                batch, size = [], 0
            batch.append({"timestamp": ts, "message": message})
            size += cost
        if batch:
            yield stream, batch


def instance_id():
    """This instance's id from IMDSv2 (the only version our instances allow)."""
    base = os.environ.get("OWP_IMDS_URL", "http://169.254.169.254")
    token_req = urllib.request.Request(
        base + "/latest/api/token",
        method="PUT",
        headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"},
    )
    with urllib.request.urlopen(token_req, timeout=2) as resp:
        token = resp.read().decode()
    req = urllib.request.Request(
        base + "/latest/meta-data/instance-id",
        headers={"X-aws-ec2-metadata-token": token},
    )
    with urllib.request.urlopen(req, timeout=2) as resp:
        return resp.read().decode()


def current_boot(reader):  # pragma: no cover - needs a journal
    """The boot journald is writing: that of the newest entry.

    Not /proc/sys/kernel/random/boot_id: this unit's sandbox mounts a /proc of
    its own, which in a container shows the host's boot id, not the one the
    container's journald stamps (found by booting the image under nspawn).
    """
    reader.seek_tail()
    newest = reader.get_previous()
    reader.seek_head()
    return newest["_BOOT_ID"]


def run():  # pragma: no cover - needs a journal and AWS
    import boto3
    from systemd import journal

    group = os.environ["OWP_LOG_GROUP"]
    prefixes = [p for p in os.environ.get("OWP_LOG_UNITS", "owp-").split(",") if p]
    state = os.path.join(os.environ.get("STATE_DIRECTORY", "."), "cursor")
    # AWS_ENDPOINT_URL as newer SDKs honour it (Debian 12's boto3 1.26 does not): a local stand-in.
    logs = boto3.client("logs", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
    host = instance_id()
    known_streams = set()

    reader = journal.Reader()
    try:
        with open(state, encoding="utf-8") as f:
            reader.seek_cursor(f.read().strip())
            reader.get_next()  # the stored cursor was already delivered
    except FileNotFoundError:
        # First start on this instance: everything since boot, so the
        # first minutes of a new instance are not lost.
        reader.this_boot(current_boot(reader))
        reader.seek_head()

    pending, cursor, started = [], None, time.monotonic()
    while True:
        reader.wait(1.0)  # seconds
        for entry in reader:
            cursor = entry["__CURSOR"]
            unit = entry.get("_SYSTEMD_UNIT", "")
            if wanted(unit, prefixes):
                ts = int(entry["__REALTIME_TIMESTAMP"].timestamp() * 1000)
                pending.append((f"{host}/{unit}", ts, str(entry.get("MESSAGE", ""))))
        if cursor is None or time.monotonic() - started < FLUSH_SECONDS:
            continue
        for stream, batch in batches(pending):
            if stream not in known_streams:
                try:
                    logs.create_log_stream(logGroupName=group, logStreamName=stream)
                except logs.exceptions.ResourceAlreadyExistsException:
                    pass
                known_streams.add(stream)
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
        tmp = state + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(cursor)
        os.replace(tmp, state)
        pending, started = [], time.monotonic()


if __name__ == "__main__":  # pragma: no cover
    try:
        run()
    except KeyboardInterrupt:
        sys.exit(0)
    except Exception as exc:  # systemd restarts us; say why once
        print(json.dumps({"level": "error", "error": repr(exc)}), file=sys.stderr)
        sys.exit(1)
