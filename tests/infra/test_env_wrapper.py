"""terraform/env, the one-command wrapper, run against a stand-in terraform
that records its arguments: the per-engineer state key and tfvars, the
lifted deletion protection before a dev destroy, and refusals."""

import json
import os

import pytest

from conftest import TERRAFORM, run

ENGINEER = "citest"


@pytest.fixture
def wrapper_env(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls"
    fake = bin_dir / "terraform"
    fake.write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    fake.chmod(0o755)
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    for image in ("app", "kafka", "zookeeper"):
        (manifests / f"{image}.json").write_text(json.dumps({"builds": [], "last_run_uuid": "x"}))
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "OWP_STATE_BUCKET": "owp-tfstate-test",
        "OWP_DNS_ZONE": "owp.example.org",
        "OWP_IMAGE_MANIFEST_DIR": str(manifests),
        "OWP_SYNC_IMAGES": "0",
        "OWP_OWNER": "ci@example.org",
        "AWS_REGION": "us-east-1",
    }
    tfvars = TERRAFORM / "envs/dev" / f"{ENGINEER}.tfvars"
    yield env, log
    tfvars.unlink(missing_ok=True)


def calls(log):
    return log.read_text().splitlines()


def test_dev_plan_uses_the_engineers_state_and_vars(wrapper_env):
    env, log = wrapper_env
    result = run([TERRAFORM / "env", ENGINEER, "plan"], env=env, check=False)
    assert result.returncode == 0, result.stderr
    init, plan = calls(log)
    assert "init" in init and "-backend-config=key=dev/citest/terraform.tfstate" in init
    assert "-backend-config=bucket=owp-tfstate-test" in init
    assert plan.startswith(f"-chdir={TERRAFORM / 'envs/dev'} plan")
    assert "-var-file=citest.tfvars" in plan and "dns_zone_name=owp.example.org" in plan
    tfvars = (TERRAFORM / "envs/dev/citest.tfvars").read_text()
    assert 'engineer = "citest"' in tfvars and 'owner    = "ci@example.org"' in tfvars


def test_dev_destroy_lifts_protection_first(wrapper_env):
    env, log = wrapper_env
    result = run([TERRAFORM / "env", ENGINEER, "destroy"], env=env, check=False)
    assert result.returncode == 0, result.stderr
    _, apply, destroy = calls(log)
    assert " apply " in apply and "allow_destroy=true" in apply
    assert " destroy " in destroy and "allow_destroy=true" in destroy


@pytest.mark.parametrize("args", [["staging", "destroy"], ["prod", "destroy"], ["Bad_Name", "plan"], ["alice", "import"]])
def test_refusals(wrapper_env, args):
    env, log = wrapper_env
    result = run([TERRAFORM / "env", *args], env=env, check=False)
    assert result.returncode != 0
    assert not log.exists()


def test_prod_plan(wrapper_env):
    env, log = wrapper_env
    result = run([TERRAFORM / "env", "prod", "plan"], env=env, check=False)
    assert result.returncode == 0, result.stderr
    init, plan = calls(log)
    assert "key=prod/terraform.tfstate" in init and "owner=ci@example.org" in plan


FAKE_TERRAFORM = r'''#!/usr/bin/env python3
# Records its arguments; answers `output -json <role>_nodes` from a JSON file and
# gives the node named in -replace= a new instance id on apply.
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(" ".join(args) + "\n")
state = os.environ["FAKE_NODES"]
nodes = json.load(open(state))
if "output" in args:
    print(json.dumps(nodes))
elif "apply" in args:
    replace = [a.split("=", 1)[1] for a in args if a.startswith("-replace=")]
    if os.environ.get("FAKE_APPLY_DECLINED") or not replace:
        sys.exit(0)
    for n in nodes:
        if n["replace"] == replace[0]:
            n["instance_id"] += "-new"
    json.dump(nodes, open(state, "w"))
'''

FAKE_AWS = r'''#!/bin/sh
# Session Manager's Run Command: every send-command is logged with its instance; the status
# is Failed for instances listed in $FAKE_UNHEALTHY, else Success.
echo "aws $*" >> "$FAKE_LOG"
case "$1 $2" in
  "ssm send-command") echo "cmd-$4" ;;
  "ssm get-command-invocation")
    instance="$(echo "$*" | sed -n 's/.*--instance-id \([^ ]*\).*/\1/p')"
    case "$*" in
      *"--query Status"*) case " $FAKE_UNHEALTHY " in *" $instance "*) echo Failed ;; *) echo Success ;; esac ;;
      *) echo "healthy or not, as the fake says" ;;
    esac ;;
esac
'''


def nodes(role, count):
    resource = "aws_instance.broker" if role == "kafka" else "aws_instance.node"
    return [
        {"node_id": i + 1, "instance_id": f"i-{role}{i + 1}", "replace": f"module.stack.module.{role}.{resource}[{i}]",
         "targets": [f"module.stack.module.{role}.{resource}[{i}]", f"module.stack.module.{role}.attachment[{i}]"]}
        for i in range(count)
    ]


@pytest.fixture
def roll_env(wrapper_env, tmp_path):
    env, log = wrapper_env
    bin_dir = tmp_path / "bin"
    for name, text in (("terraform", FAKE_TERRAFORM), ("aws", FAKE_AWS)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    state = tmp_path / "nodes.json"
    env = {**env, "FAKE_LOG": str(log), "FAKE_NODES": str(state), "OWP_ROLL_TIMEOUT": "2", "OWP_ROLL_POLL_SECONDS": "0"}
    return env, log, state


def roll_calls(log):
    """The applies and the instances health was checked on, in order."""
    out = []
    for line in calls(log):
        if " apply " in line:
            out.append(("apply", next(a.split("=", 1)[1] for a in line.split() if a.startswith("-replace="))))
        elif line.startswith("aws ssm send-command"):
            out.append(("health", line.split("--instance-ids ")[1].split()[0]))
    return out


@pytest.mark.parametrize("role,count", [("kafka", 3), ("zookeeper", 5)])
def test_roll_replaces_one_node_at_a_time_between_health_checks(roll_env, role, count):
    env, log, state = roll_env
    state.write_text(json.dumps(nodes(role, count)))
    result = run([TERRAFORM / "env", ENGINEER, "roll", role, "-auto-approve"], env=env, check=False)
    assert result.returncode == 0, result.stderr
    expected = []
    for n in nodes(role, count):
        expected += [("health", n["instance_id"]), ("apply", n["replace"]), ("health", n["instance_id"] + "-new")]
    assert roll_calls(log) == expected
    applies = [line for line in calls(log) if " apply " in line]
    for n, line in zip(nodes(role, count), applies):
        assert all(f"-target={t}" in line.split() for t in n["targets"]) and line.endswith("-auto-approve")
        assert "-var-file=citest.tfvars" in line


def test_roll_refuses_an_unhealthy_cluster(roll_env):
    env, log, state = roll_env
    state.write_text(json.dumps(nodes("kafka", 3)))
    result = run([TERRAFORM / "env", ENGINEER, "roll", "kafka"], env={**env, "FAKE_UNHEALTHY": "i-kafka1"}, check=False)
    assert result.returncode != 0 and "not healthy" in result.stderr
    assert [c for c in roll_calls(log) if c[0] == "apply"] == []


def test_roll_stops_when_a_new_node_does_not_become_healthy(roll_env):
    env, log, state = roll_env
    state.write_text(json.dumps(nodes("kafka", 3)))
    result = run([TERRAFORM / "env", ENGINEER, "roll", "kafka"], env={**env, "FAKE_UNHEALTHY": "i-kafka1-new"}, check=False)
    assert result.returncode != 0 and "not healthy after" in result.stderr
    assert [c[1] for c in roll_calls(log) if c[0] == "apply"] == ["module.stack.module.kafka.aws_instance.broker[0]"]


def test_roll_stops_when_the_apply_replaced_nothing(roll_env):
    env, log, state = roll_env
    state.write_text(json.dumps(nodes("kafka", 3)))
    result = run([TERRAFORM / "env", ENGINEER, "roll", "kafka"], env={**env, "FAKE_APPLY_DECLINED": "1"}, check=False)
    assert result.returncode != 0 and "was not replaced" in result.stderr
    assert len([c for c in roll_calls(log) if c[0] == "apply"]) == 1


def test_replace_failed_skips_the_precheck_for_one_node(roll_env):
    env, log, state = roll_env
    state.write_text(json.dumps(nodes("kafka", 3)))
    result = run([TERRAFORM / "env", "prod", "roll", "kafka", "--node", "2", "--replace-failed"],
                 env={**env, "FAKE_UNHEALTHY": "i-kafka2"}, check=False)
    assert result.returncode == 0, result.stderr
    assert roll_calls(log) == [("apply", "module.stack.module.kafka.aws_instance.broker[1]"), ("health", "i-kafka2-new")]
    without_node = run([TERRAFORM / "env", "prod", "roll", "kafka", "--replace-failed"], env=env, check=False)
    assert without_node.returncode != 0 and "--node" in without_node.stderr


FAKE_AWS_ACCOUNT = r'''#!/bin/sh
# The state bucket holds $FAKE_ENVS engineer states and the limit $FAKE_LIMIT; RDS lists the
# final snapshots in $FAKE_SNAPSHOTS (one "time id" per line).
echo "aws $*" >> "$FAKE_LOG"
case "$1 $2" in
  "s3api head-object") case "$*" in *"dev/$FAKE_EXISTING/"*) exit 0 ;; *) exit 255 ;; esac ;;
  "s3 cp") echo "$FAKE_LIMIT" ;;
  "s3 ls") for e in $FAKE_ENVS; do echo "                           PRE $e/"; done ;;
  "rds describe-db-snapshots") printf '%s\n' "$FAKE_SNAPSHOTS" | tr ';' '\n' ;;
esac
'''


@pytest.fixture
def account_env(wrapper_env, tmp_path):
    env, log = wrapper_env
    aws = tmp_path / "bin" / "aws"
    aws.write_text(FAKE_AWS_ACCOUNT)
    aws.chmod(0o755)
    return {**env, "FAKE_LOG": str(log), "FAKE_LIMIT": "2", "FAKE_ENVS": "", "FAKE_EXISTING": "", "FAKE_SNAPSHOTS": ""}, log


def test_a_new_engineer_environment_beyond_the_limit_is_refused(account_env):
    env, log = account_env
    full = run([TERRAFORM / "env", ENGINEER, "apply"], env={**env, "FAKE_ENVS": "alice bob"}, check=False)
    assert full.returncode != 0 and "allows 2" in full.stderr and "max_engineer_environments" in full.stderr
    assert not any(" apply " in c for c in calls(log))
    # An engineer whose environment already exists is never locked out of it.
    own = run([TERRAFORM / "env", ENGINEER, "apply"], env={**env, "FAKE_ENVS": "alice citest", "FAKE_EXISTING": ENGINEER}, check=False)
    assert own.returncode == 0, own.stderr
    room = run([TERRAFORM / "env", ENGINEER, "apply"], env={**env, "FAKE_ENVS": "alice"}, check=False)
    assert room.returncode == 0, room.stderr


def test_destroy_prunes_all_but_the_newest_final_snapshot(account_env):
    env, log = account_env
    snapshots = ";".join([
        "2025-01-03T10:00:00Z owp-dev-citest-final-202501031000",
        "2025-01-01T10:00:00Z owp-dev-citest-final-202501011000",
        "2025-01-02T10:00:00Z owp-dev-citest-final-202501021000",
    ])
    result = run([TERRAFORM / "env", ENGINEER, "destroy"], env={**env, "FAKE_SNAPSHOTS": snapshots}, check=False)
    assert result.returncode == 0, result.stderr
    deleted = [c.split()[-1] for c in calls(log) if c.startswith("aws rds delete-db-snapshot")]
    assert deleted == ["owp-dev-citest-final-202501011000", "owp-dev-citest-final-202501021000"]
    assert "starts_with(DBSnapshotIdentifier, 'owp-dev-citest-final-')" in next(c for c in calls(log) if "describe-db-snapshots" in c)
