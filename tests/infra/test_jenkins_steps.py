"""The pipeline's step scripts that talk to AWS, run against stand-ins: jenkins/steps/bake.sh
decides per image from the commit tagged on its newest AMI (not from a changeset), and
jenkins/steps/env.sh, the engineer-environment job, keeps away from the shared environments."""

import os
import shutil
import subprocess

import pytest

from conftest import REPO, run

IMAGES = ("app", "kafka", "zookeeper")

FAKE_AWS = """#!/bin/sh
# describe-images answers the commit in $FAKE_AMI_<IMAGE> (or None); the rest is logged.
echo "aws $*" >> "$FAKE_LOG"
case "$1 $2" in
  "ec2 describe-images")
    image="$(printf '%s\\n' "$@" | sed -n 's/^Name=tag:Image,Values=//p')"
    eval "commit=\\${FAKE_AMI_$image:-None}"
    echo "$commit" ;;
  "sts get-caller-identity") echo 123456789012 ;;
esac
"""

FAKE_PACKER = """#!/bin/sh
# Writes the manifest the real post-processor would, and logs the template.
echo "packer $*" >> "$FAKE_LOG"
for arg; do
  case "$arg" in manifest_dir=*) dir="${arg#manifest_dir=}" ;; *.pkr.hcl) template="$arg" ;; esac
done
image="$(basename "$template" .pkr.hcl)"
mkdir -p "$dir" && echo '{"builds": []}' > "$dir/$image.json"
"""


def git(repo, *args):
    return run(["git", "-C", str(repo), *args]).stdout.strip()


@pytest.fixture
def clone(tmp_path):
    """A throwaway repository with the step scripts, packer/ and dist/systemd, and stand-ins
    for aws and packer on the PATH."""
    repo = tmp_path / "repo"
    for path in ("jenkins/steps", "scripts/lib.sh", "packer/.gitignore"):
        source, target = REPO / path, repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
    for image in IMAGES:
        (repo / "packer").mkdir(exist_ok=True)
        (repo / f"packer/{image}.pkr.hcl").write_text(f"# {image}\n")
    (repo / "dist/systemd").mkdir(parents=True)
    (repo / "dist/systemd/owp-writepoint.service").write_text("[Unit]\n")
    (repo / "README.md").write_text("readme\n")
    pipeline = tmp_path / "pipeline"
    pipeline.mkdir()
    (pipeline / "VERSION").write_text("1.2.3-b7.gabc\n")
    (pipeline / "owp-1.2.3-b7.gabc.tar.gz").write_text("stand-in\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("aws", FAKE_AWS), ("packer", FAKE_PACKER)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "-c", "user.email=ci@example.org", "-c", "user.name=ci", "add", "-A")
    commit(repo, "first")
    log = tmp_path / "calls"
    public_key = tmp_path / "release.pub"
    public_key.write_text("untrusted comment: minisign public key 0123456789ABCDEF\nRW" + "A" * 54 + "\n")
    env = {
        "OWP_RELEASE_PUBLIC_KEY": str(public_key),
        "OWP_RDS_CA_BUNDLE_SHA256": "ab" * 32,
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "FAKE_LOG": str(log),
        "OWP_PIPELINE_DIR": str(pipeline),
        "CARGO_TARGET_DIR": str(tmp_path / "target"),
    }
    return repo, env, log


def commit(repo, message, change=None):
    if change:
        path = repo / change
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(path.read_text() + f"{message}\n" if path.exists() else f"{message}\n")
    git(repo, "add", "-A")
    git(repo, "-c", "user.email=ci@example.org", "-c", "user.name=ci", "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def bake(clone, **amis):
    repo, env, log = clone
    log.unlink(missing_ok=True)
    env = dict(env, **{f"FAKE_AMI_{k}": v for k, v in amis.items() if k.isidentifier()})
    env.update({k: v for k, v in amis.items() if k.startswith("OWP_")})
    result = subprocess.run(
        ["bash", str(repo / "jenkins/steps/bake.sh")], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines() if log.exists() else []
    baked = sorted(
        os.path.basename(c.split()[-1]).removesuffix(".pkr.hcl") for c in calls if c.startswith("packer ")
    )
    uploaded = sorted(c.split()[-1].rsplit("/", 1)[-1] for c in calls if c.startswith("aws s3 cp"))
    return baked, uploaded, calls


def test_a_first_build_bakes_every_image(clone):
    baked, uploaded, _ = bake(clone)
    assert baked == sorted(IMAGES)
    assert uploaded == [f"{image}.json" for image in sorted(IMAGES)]


def test_images_baked_from_this_commit_are_not_baked_again(clone):
    head = git(clone[0], "rev-parse", "HEAD")
    baked, uploaded, _ = bake(clone, app=head, kafka=head, zookeeper=head)
    assert baked == [] and uploaded == []


def test_a_change_outside_the_inputs_bakes_nothing(clone):
    before = git(clone[0], "rev-parse", "HEAD")
    commit(clone[0], "docs", "README.md")
    assert bake(clone, app=before, kafka=before, zookeeper=before)[0] == []


def test_a_packer_change_bakes_every_image_and_a_unit_change_only_the_app(clone):
    before = git(clone[0], "rev-parse", "HEAD")
    commit(clone[0], "kafka tuning", "packer/kafka.pkr.hcl")
    assert bake(clone, app=before, kafka=before, zookeeper=before)[0] == sorted(IMAGES)
    after = git(clone[0], "rev-parse", "HEAD")
    commit(clone[0], "unit", "dist/systemd/owp-writepoint.service")
    assert bake(clone, app=after, kafka=after, zookeeper=after)[0] == ["app"]


def test_a_retry_bakes_what_the_failed_build_left_unbaked(clone):
    # A changeset condition would see nothing new on a retry; the AMIs show kafka still old.
    before = git(clone[0], "rev-parse", "HEAD")
    head = commit(clone[0], "zookeeper", "packer/zookeeper.pkr.hcl")
    assert bake(clone, app=head, kafka=before, zookeeper=head)[0] == ["kafka"]


def test_an_ami_from_a_commit_this_clone_does_not_know_is_baked_again(clone):
    head = git(clone[0], "rev-parse", "HEAD")
    unknown = "0" * 40
    assert bake(clone, app=head, kafka=unknown, zookeeper=head)[0] == ["kafka"]


def test_force_bakes_everything(clone):
    head = git(clone[0], "rev-parse", "HEAD")
    baked, _, _ = bake(clone, app=head, kafka=head, zookeeper=head, OWP_BAKE_FORCE="true")
    assert baked == sorted(IMAGES)


def test_the_app_image_gets_this_builds_release(clone):
    _, _, calls = bake(clone)
    app = next(c for c in calls if c.startswith("packer ") and c.endswith("app.pkr.hcl"))
    assert "version=1.2.3-b7.gabc" in app
    assert "release_tarball=" in app and "owp-1.2.3-b7.gabc.tar.gz" in app
    assert f"git_commit={git(clone[0], 'rev-parse', 'HEAD')}" in app
    assert "release_public_key=RW" + "A" * 54 in app
    assert "rds_ca_bundle_sha256=" + "ab" * 32 in app


def test_the_app_image_is_not_baked_without_the_release_key(clone):
    repo, env, log = clone
    env = {k: v for k, v in env.items() if k != "OWP_RELEASE_PUBLIC_KEY"}
    result = subprocess.run(["bash", str(repo / "jenkins/steps/bake.sh")], env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "OWP_RELEASE_PUBLIC_KEY" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["prod", "destroy"], "not an engineer environment"),
        (["staging", "apply"], "not an engineer environment"),
        (["bootstrap", "plan"], "not an engineer environment"),
        (["Alice", "plan"], "lowercase"),
        (["alice", "import"], "unknown action"),
    ],
)
def test_the_environment_job_refuses_what_is_not_an_engineer_environment(args, message):
    result = subprocess.run(
        ["bash", str(REPO / "jenkins/steps/env.sh"), *args], capture_output=True, text=True
    )
    assert result.returncode != 0
    assert message in result.stderr
