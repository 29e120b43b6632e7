#!/usr/bin/python3
"""Keeps a new app instance out of service until it runs the current release.

An instance from the Auto Scaling group boots on the release baked into its AMI, which is
usually older than the environment's current release. The group's launch lifecycle hook holds
the instance in Pending:Wait (not registered with the load balancer); user data starts the
deployer without a load balancer (/run/owp-launch/deployer.env sets
OWP_DEPLOYER_LOAD_BALANCER=none) and this gate. The deployer installs the current release as on
any instance; the gate waits until

  - the installed release (/opt/owp/current) is the current one (the release the signed pointer
    releases/current in the releases bucket names), or no release was ever published, or the
    object there is not a signed pointer at all, or the current one is marked bad (deployers
    refuse both; the instance serves what it has, like every other one), and
  - every local readiness URL answers 200,

then removes the override, restarts the deployer (now with the ALB) and completes the lifecycle
action with CONTINUE, which puts the instance in service. At the deadline it completes with
ABANDON: the group replaces the instance instead of serving an old release from it.

Without /run/owp-launch/deployer.env (a reboot, an instance not launched behind the hook) it
does nothing. It must never complete a lifecycle action for another instance.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request

GATE_FILE = "/run/owp-launch/deployer.env"
# OWP_IMDS_URL moves it for a local stand-in, as for the journal shipper.
IMDS = os.environ.get("OWP_IMDS_URL", "http://169.254.169.254")
DEFAULT_READY = "http://127.0.0.1:8080/readyz,http://127.0.0.1:8081/readyz,http://127.0.0.1:8082/readyz"


def decide(installed, current, current_is_bad, ready):
    """'continue' when the instance may enter service, else 'wait'."""
    if not ready:
        return "wait"
    if current is None or installed == current or current_is_bad:
        return "continue"
    return "wait"


def pointer_version(body):
    """The release a `current` object names: a signed pointer keeps the signed JSON as text
    under "pointer" (deployer/release/src/pointer.rs). None when it is not a signed pointer.
    The signature is the deployer's to check; the gate only compares versions."""
    try:
        return json.loads(json.loads(body)["pointer"])["version"]
    except (ValueError, KeyError, TypeError):
        return None


def installed_version(install_root):
    """The release /opt/owp/current points at (releases/<version>), or None."""
    try:
        return os.path.basename(os.readlink(os.path.join(install_root, "current")).rstrip("/"))
    except OSError:
        return None


def wait_for_release(check, deadline_s, pause_s, clock=time.monotonic, sleep=time.sleep, log=print):
    """Polls check() -> (installed, current, current_is_bad, ready) until decide() says
    continue ('CONTINUE') or the deadline passes ('ABANDON')."""
    deadline = clock() + deadline_s
    last = None
    while True:
        state = check()
        if state != last:
            log("installed %s, current %s%s, ready %s" % (state[0], state[1], " (marked bad)" if state[2] else "", state[3]))
            last = state
        if decide(*state) == "continue":
            return "CONTINUE"
        if clock() >= deadline:
            return "ABANDON"
        sleep(pause_s)


def main():  # pragma: no cover - needs AWS, systemd and an instance
    import boto3
    from botocore.exceptions import ClientError

    if not os.path.exists(GATE_FILE):
        print("owp-launch-gate: not a first boot behind the launch hook; nothing to do", file=sys.stderr)
        return 0
    env = os.environ
    bucket = env["OWP_DEPLOYER_BUCKET"]
    environment = env["OWP_DEPLOYER_ENVIRONMENT"]
    prefix = env.get("OWP_DEPLOYER_RELEASES_PREFIX", "releases/")
    ready_urls = env.get("OWP_DEPLOYER_READY_URLS", DEFAULT_READY).split(",")
    # AWS_ENDPOINT_URL as newer SDKs honour it (Debian 12's boto3 1.26 does not): a local stand-in.
    endpoint = env.get("AWS_ENDPOINT_URL")
    s3 = boto3.client("s3", endpoint_url=endpoint)

    def current_release():
        try:
            body = s3.get_object(Bucket=bucket, Key=prefix + "current")["Body"].read()
        except ClientError as err:
            if err.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise
        return pointer_version(body)

    def is_bad(version):
        try:
            s3.head_object(Bucket=bucket, Key="leases/%s/bad/%s.json" % (environment, version))
            return True
        except ClientError:
            return False

    def ready():
        for url in ready_urls:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status != 200:
                        return False
            except OSError:
                return False
        return True

    def check():
        current = current_release()
        return (installed_version("/opt/owp"), current, bool(current) and is_bad(current), ready())

    result = wait_for_release(
        check,
        float(env.get("OWP_LAUNCH_GATE_TIMEOUT", "1500")),
        5.0,
        log=lambda line: print("owp-launch-gate: " + line, file=sys.stderr, flush=True),
    )
    # From here on the deployer runs with the load balancer again (also after a reboot).
    os.remove(GATE_FILE)
    subprocess.run(["systemctl", "restart", "owp-deployer.service"], check=True)
    token = urllib.request.urlopen(urllib.request.Request(
        IMDS + "/latest/api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}), timeout=2).read().decode()
    instance = urllib.request.urlopen(urllib.request.Request(
        IMDS + "/latest/meta-data/instance-id", headers={"X-aws-ec2-metadata-token": token}), timeout=2).read().decode()
    boto3.client("autoscaling", endpoint_url=endpoint).complete_lifecycle_action(
        AutoScalingGroupName=env["OWP_AUTOSCALING_GROUP"],
        LifecycleHookName=env["OWP_LAUNCH_HOOK"],
        InstanceId=instance,
        LifecycleActionResult=result,
    )
    print("owp-launch-gate: %s (%s)" % (result, instance), file=sys.stderr)
    return 0 if result == "CONTINUE" else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
