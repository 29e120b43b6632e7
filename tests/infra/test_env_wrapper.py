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
