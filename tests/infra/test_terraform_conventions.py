"""Module conventions of terraform/, checked on the parsed HCL: the files
every module has, typed and described variables with validations where a
bad value is possible, pinned versions, the S3 backend with native lock
files, and default tags with owner and environment on every root."""

import re

import pytest

from conftest import MODULES, TERRAFORM, blocks, parse_tf, tf_files

MODULE_DIRS = sorted(p for p in (TERRAFORM / "modules").iterdir() if p.is_dir())
ROOTS = [TERRAFORM / "envs" / e for e in ("dev", "staging", "prod")] + [TERRAFORM / "bootstrap"]

# A variable of one of these kinds can hold a value AWS or Kafka would
# reject late (or accept and misbehave with); it must carry a validation.
NEEDS_VALIDATION = re.compile(
    r"(^name$|^environment$|_count$|_type$|_class$|ami_id|_arn$|^region$|version|_mode$|cidr|domain|heap"
    r"|schedule|_url$|_days$|_gb$|_seconds$|threshold|_size$|replicas|replication|partitions|host_number"
    r"|engineer|owner|bucket$|zone_id|suffixes|limit)"
)


def variables(directory):
    return [v for v in blocks(directory / "variables.tf", "variable")]


def test_every_tf_file_parses():
    assert len(tf_files()) >= 40
    for path in tf_files():
        parse_tf(path)


def test_the_seven_modules_exist():
    names = {p.name for p in MODULE_DIRS}
    assert set(MODULES) <= names


@pytest.mark.parametrize("module", MODULE_DIRS, ids=lambda p: p.name)
def test_module_has_the_standard_files(module):
    for f in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
        assert (module / f).is_file(), f"{module.name} lacks {f}"
    assert len((module / "README.md").read_text()) > 300, f"{module.name}/README.md says too little"


@pytest.mark.parametrize("directory", MODULE_DIRS + ROOTS, ids=lambda p: p.relative_to(TERRAFORM).as_posix())
def test_every_variable_is_typed_described_and_validated_where_needed(directory):
    found = variables(directory)
    assert found, f"{directory} declares no variables"
    for name, body in found:
        assert body.get("type"), f"{directory.name}: variable {name} has no type"
        assert len(body.get("description", "")) >= 10, f"{directory.name}: variable {name} has no description"
        if NEEDS_VALIDATION.search(name) and body.get("type") in ("string", "number", "${string}", "${number}"):
            # Values wired from another module's output are validated there.
            if name.endswith(("_ids", "vpc_id")) or name in ("log_group_name", "log_group_arn", "releases_bucket", "releases_bucket_arn", "access_log_bucket"):
                continue
            assert body.get("validation"), f"{directory.name}: variable {name} needs a validation"


@pytest.mark.parametrize("directory", MODULE_DIRS + ROOTS, ids=lambda p: p.relative_to(TERRAFORM).as_posix())
def test_versions_are_pinned(directory):
    tf = parse_tf(directory / "versions.tf")["terraform"][0]
    assert tf["required_version"].startswith(">= 1.10"), "S3 native locking needs Terraform 1.10"
    providers = tf["required_providers"][0]
    assert providers["aws"]["source"] == "hashicorp/aws"
    for spec in providers.values():
        assert spec["version"].startswith("~>"), spec


@pytest.mark.parametrize("root", ROOTS, ids=lambda p: p.relative_to(TERRAFORM).as_posix())
def test_roots_use_s3_backend_with_lock_file_and_default_tags(root):
    parsed = parse_tf(root / "versions.tf")
    backend = parsed["terraform"][0]["backend"][0]
    assert list(backend) == ["s3"]
    assert backend["s3"]["use_lockfile"] is True
    assert backend["s3"]["encrypt"] is True
    assert "dynamodb_table" not in backend["s3"]
    aws = parsed["provider"][0]["aws"]
    tags = aws["default_tags"][0]["tags"]
    assert {"owner", "environment"} <= set(tags)


def test_dev_is_one_copy_per_engineer():
    main = (TERRAFORM / "envs/dev/main.tf").read_text()
    assert 'environment = "dev-${var.engineer}"' in main
    assert (TERRAFORM / "envs/dev/example.tfvars").is_file()
    wrapper = (TERRAFORM / "env").read_text()
    assert '"dev/$engineer/terraform.tfstate"' in wrapper
    assert '-var-file="$engineer.tfvars"' in wrapper


def test_modules_reference_templates_that_exist():
    for path in tf_files():
        for rel in re.findall(r'templates/([A-Za-z0-9_.-]+\.tftpl)', path.read_text()):
            assert (TERRAFORM / "templates" / rel).is_file(), f"{path}: missing template {rel}"


def test_checkov_skips_carry_a_reason():
    pattern = re.compile(r"checkov:skip=([A-Z0-9_]+)(:?)(.*)")
    skips = 0
    for path in tf_files():
        for line in path.read_text().splitlines():
            m = pattern.search(line)
            if m:
                skips += 1
                assert m.group(2) == ":" and len(m.group(3).strip()) >= 20, f"{path}: skip without a reason: {line.strip()}"
    assert skips > 0
