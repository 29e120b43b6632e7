"""Packer templates wire scripts together and nothing more: each one names
its AMI with version and timestamp, tags the git commit, encrypts the
image, writes the manifest Terraform reads, and calls scripts that exist.
(`packer fmt -check` and `packer validate` run in scripts/test-infra.)"""

import re

import pytest

from conftest import PACKER, TERRAFORM

TEMPLATES = sorted(PACKER.glob("*.pkr.hcl"))


def test_one_template_per_image():
    assert [t.name for t in TEMPLATES] == ["app.pkr.hcl", "kafka.pkr.hcl", "zookeeper.pkr.hcl"]


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_template_conventions(template):
    text = template.read_text()
    image = template.name.split(".")[0]
    assert f'image     = "{image}"' in text
    assert re.search(r'ami_name\s+= "owp-\$\{local\.image\}-\$\{(var|local)\.version\}-\$\{local\.timestamp\}"', text)
    assert re.search(r"GitCommit\s+= var\.git_commit", text)
    assert "encrypt_boot = true" in text
    assert re.search(r'output\s+= "\$\{var\.manifest_dir\}/\$\{local\.image\}\.json"', text)
    assert 'default     = "packer/manifests"' in text
    for script in re.findall(r"/tmp/owp-packer/scripts/([a-z-]+\.sh)", text):
        assert (PACKER / "scripts" / script).is_file(), script
    # Provisioning is in the scripts; inline shell only calls them.
    for line in re.findall(r'^\s+"(sudo [^"]*)",?$', text, re.M):
        assert line.startswith("sudo bash /tmp/owp-packer/scripts/"), line


def test_terraform_reads_the_manifests_packer_writes():
    stack = (TERRAFORM / "modules/stack/main.tf").read_text()
    assert 'images = ["app", "kafka", "zookeeper"]' in stack
    assert '"${var.image_manifest_dir}/${image}.json"' in stack
    assert "m.last_run_uuid" in stack
    for env in ("dev", "staging", "prod"):
        assert '"${path.root}/../../../packer/manifests"' in (TERRAFORM / "envs" / env / "main.tf").read_text()
