"""Every runbook command names what Terraform actually creates: the production names that
terraform/envs/prod/tests/names.tftest.hcl asserts Terraform produces (its expected_names) are
the only owp-prod... names the commands may use, each flag that takes a particular resource gets
exactly that resource, ZooKeeper paths carry the cluster's chroot, and `terraform -replace`
never runs without `-target` (a whole-environment apply next to a replacement)."""

import fnmatch
import re
import shlex
import sys

import hcl2
import pytest

from conftest import REPO, TERRAFORM

sys.path.insert(0, str(REPO / "scripts"))
import runbooks as checker  # noqa: E402  (scripts/runbooks.py: the runbook block parser)

RUNBOOKS = sorted(p for p in (REPO / "runbooks").glob("*.md") if p.name != "README.md")

# Names a runbook makes up for what it creates itself.
CREATED = {
    "restore-rds.md": {"owp-prod-restored", "owp-prod-damaged"},
}
# Names that carry an account id, a time or a node after a fixed prefix.
PREFIXES = ("owp-prod-releases-", "owp-prod-final-", "owp-prod-kafka-", "owp-prod-zk-", "owp-prod-metadata-",
            "owp-prod-rds", "owp-prod-search", "owp-prod-zookeeper")


@pytest.fixture(scope="module")
def names():
    with open(TERRAFORM / "envs/prod/tests/names.tftest.hcl", encoding="utf-8") as f:
        parsed = hcl2.load(f)
    expected = parsed["variables"][0]["expected_names"]
    return expected


def flat(names):
    out = set()
    for v in names.values():
        out |= set(v) if isinstance(v, list) else {v}
    return out


def commands():
    for path in RUNBOOKS:
        for info, body, line in checker.blocks(path.read_text()):
            if info.split()[:1] == ["sh"]:
                for words in checker.commands(body):
                    yield path.name, line, words


def flag_value(words, flag):
    for i, w in enumerate(words):
        if w == flag and i + 1 < len(words):
            return words[i + 1]
        if w.startswith(flag + "="):
            return w.split("=", 1)[1]
    return None


def test_the_expected_names_are_there(names):
    assert names["db_parameter_group"].startswith("owp-prod-pg") and names["zookeeper_chroot"].startswith("/")


def test_every_production_name_in_a_command_exists(names):
    known = flat(names)
    problems = []
    for runbook, line, words in commands():
        for token in re.findall(r"owp-prod[a-z0-9*-]*", " ".join(words)):
            token = token.rstrip("-")
            ok = (token in known or token in CREATED.get(runbook, set())
                  or any(token.startswith(p.rstrip("-")) for p in PREFIXES)
                  or ("*" in token and any(fnmatch.fnmatch(n, token) for n in known)))
            if not ok:
                problems.append(f"{runbook}:{line}: {token}")
    assert problems == [], "names Terraform does not produce: " + ", ".join(problems)


FLAGS = {
    "--db-parameter-group-name": "db_parameter_group",
    "--db-subnet-group-name": "db_subnet_group",
    "--domain-name": "search_domain",
    "--auto-scaling-group-name": "autoscaling_group",
    "--auto-scaling-group-names": "autoscaling_group",
    "--log-group-name": "journal_log_group",
    "--namespace": "metrics_namespace",
    "--backup-vault-name": "db_backup_vault",
    "--function-name": "db_export_function",
}


def test_each_resource_flag_gets_that_resource(names):
    problems = []
    for runbook, line, words in commands():
        for flag, key in FLAGS.items():
            value = flag_value(words, flag)
            if value is None or "$" in value or not value.startswith(("owp-", "/owp", "OWP/")):
                continue
            if flag == "--log-group-name" and value.startswith("/owp/session-manager"):
                continue
            # An engineer environment's names are production's with its own prefix.
            dev = re.match(r"^owp-dev-[a-z0-9]+", value)
            expected = names[key].replace("owp-prod", dev.group(0)) if dev else names[key]
            if value != expected:
                problems.append(f"{runbook}:{line}: {flag} {value}, Terraform names it {expected}")
    assert problems == []


def test_zookeeper_paths_carry_the_chroot(names):
    chroot = names["zookeeper_chroot"]
    for runbook, line, words in commands():
        if words[0].endswith("zookeeper-shell.sh"):
            paths = [w for w in words[2:] if w.startswith("/")]
            assert paths and all(p.startswith(chroot + "/") for p in paths), f"{runbook}:{line}: {' '.join(words)}"


def test_replace_always_comes_with_target():
    for runbook, line, words in commands():
        if words[0] in ("terraform", "terraform/env") and any(w.startswith("-replace=") for w in words):
            assert any(w.startswith("-target=") for w in words), f"{runbook}:{line}: -replace without -target"


def test_a_deleted_instance_is_restored_by_resource_id():
    text = (REPO / "runbooks/restore-rds.md").read_text()
    for runbook, line, words in commands():
        if "restore-db-instance-to-point-in-time" in words and runbook == "restore-rds.md":
            assert "--source-dbi-resource-id" in words or "--source-db-instance-identifier" in words
    assert "--source-dbi-resource-id" in text and "describe-db-instance-automated-backups" in text
