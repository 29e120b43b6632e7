"""Shared fixtures of the infrastructure tests: repository paths, parsed
Terraform files, and a staging root filled by the image scripts."""

import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import hcl2
import pytest

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "terraform"
PACKER = REPO / "packer"
TEMPLATES = TERRAFORM / "templates"
MODULES = ["network", "zookeeper", "kafka", "postgres", "search", "app", "releases"]
SERVICES = ["writepoint", "readpoint", "auth", "robots", "translator"]

sys.path.insert(0, str(Path(__file__).parent))
# The template renderer is shared with scripts/services, which renders the same files locally.
sys.path.insert(0, str(REPO / "scripts"))


def tf_files():
    """Every .tf file of the repository's Terraform code."""
    return sorted(p for p in TERRAFORM.rglob("*.tf") if ".terraform" not in p.parts)


@functools.lru_cache(maxsize=None)
def parse_tf(path):
    with open(path, encoding="utf-8") as f:
        return hcl2.load(f)


def blocks(path, kind):
    """[(type, name, body)] of resource/data blocks, or [(name, body)] of variables."""
    out = []
    for entry in parse_tf(path).get(kind, []):
        for type_or_name, inner in entry.items():
            if kind in ("resource", "data"):
                for name, body in inner.items():
                    out.append((type_or_name, name, body))
            else:
                out.append((type_or_name, inner))
    return out


def all_resources(kind="resource"):
    """(path, type, name, body) for every resource of every .tf file."""
    return [(p, t, n, b) for p in tf_files() for (t, n, b) in blocks(p, kind)]


def run(cmd, **kwargs):
    kwargs.setdefault("check", True)
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    return subprocess.run(cmd, **kwargs)


def make_tarball(path, top, files):
    """A .tar.gz at path with {relative name: (mode, text)} under top/."""
    staging = path.parent / (path.name + ".d")
    for rel, (mode, text) in files.items():
        f = staging / top / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
        f.chmod(mode)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(staging / top, arcname=top)
    shutil.rmtree(staging)
    return path


def sha512(path):
    return hashlib.sha512(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def release_tarball(tmp_path_factory):
    d = tmp_path_factory.mktemp("release")
    binaries = {f"bin/{b}": (0o755, f"#!/bin/sh\necho {b}\n") for b in SERVICES + ["owp", "deployer"]}
    return make_tarball(d / "owp-1.2.3.tar.gz", "owp-1.2.3", binaries)


@pytest.fixture(scope="session")
def kafka_tarball(tmp_path_factory):
    d = tmp_path_factory.mktemp("kafka")
    files = {
        "bin/kafka-server-start.sh": (0o755, "#!/bin/sh\nexit 0\n"),
        "bin/kafka-storage.sh": (0o755, "#!/bin/sh\nexit 0\n"),
        "libs/placeholder.jar": (0o644, "not a jar\n"),
    }
    return make_tarball(d / "kafka_2.13-3.9.1.tgz", "kafka_2.13-3.9.1", files)


@pytest.fixture(scope="session")
def image_root(tmp_path_factory, release_tarball, kafka_tarball):
    """A staging root filled by every image script, the way Packer runs them."""
    root = tmp_path_factory.mktemp("image") / "root"
    env = {**os.environ, "ROOT": str(root)}
    scripts = PACKER / "scripts"
    run(["bash", scripts / "base.sh"], env=env)
    # A stand-in for the RDS CA bundle, pinned by its checksum as the bake pins the real one.
    bundle = root.parent / "rds-ca-bundle.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nstand-in\n-----END CERTIFICATE-----\n")
    run(["bash", scripts / "app-image.sh", "--release-tarball", release_tarball, "--version", "1.2.3",
         "--rds-ca-bundle", bundle, "--rds-ca-sha256", hashlib.sha256(bundle.read_bytes()).hexdigest()], env=env)
    run(["bash", scripts / "zookeeper-image.sh"], env=env)
    run(["bash", scripts / "kafka-image.sh", "--version", "3.9.1", "--tarball", kafka_tarball,
         "--sha512", sha512(kafka_tarball)], env=env)
    return root


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)
