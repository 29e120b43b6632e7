"""The image provisioning scripts, run into a throwaway root the way Packer
runs them on /, and the systemd units they install: `systemd-analyze
verify` inside that root, and `systemd-analyze security --offline=true`
exposure of 3.0 or lower for every long-running service."""

import re
import shutil
import stat
from pathlib import Path

import pytest

from conftest import PACKER, REPO, SERVICES, make_tarball, run

DIST_UNITS = sorted((REPO / "dist/systemd").glob("*.service"))
APP_UNITS = [f"owp-{s}.service" for s in SERVICES + ["deployer", "database-setup"]]
# Long-running services (and the database set-up, which holds the master URL): the hardening bar
# is exposure <= 3.0.
HARDENED = APP_UNITS + ["owp-journal-shipper.service", "owp-database-env.service", "owp-launch-gate.service",
                        "owp-search-signer.service", "owp-node-metrics.service", "kafka.service", "zookeeper.service"]
# Boot steps that format and mount disks as root before the service they
# serve starts; they cannot meet the bar and exit before anything listens.
ROOT_ONESHOTS = ["owp-kafka-node.service", "owp-zookeeper-disk.service"]
MAX_EXPOSURE = 3.0


def test_dist_holds_exactly_the_app_units():
    assert [p.name for p in DIST_UNITS] == sorted(APP_UNITS)
    for unit in DIST_UNITS:
        text = unit.read_text()
        assert "EnvironmentFile=/etc/owp/owp.env" in text
        assert re.search(r"^ExecStart=/opt/owp/current/bin/", text, re.M), unit.name


def test_each_service_reads_only_its_own_database_settings():
    for service in SERVICES:
        text = (REPO / f"dist/systemd/owp-{service}.service").read_text()
        files = re.findall(r"^EnvironmentFile=-?/run/owp-database/(\S+)$", text, re.M)
        database = [] if service == "writepoint" else [f"{service}.env"]
        kafka = [f"kafka-{service}.env"] if service in ("writepoint", "auth", "robots") else []
        assert files == database + kafka, service
        # The instance role reads every database secret: the services may not reach its credentials.
        assert "IPAddressDeny=169.254.169.254/32 fd00:ec2::254/128" in text, service
    setup = (REPO / "dist/systemd/owp-database-setup.service").read_text()
    assert "EnvironmentFile=/run/owp-database/setup.env" in setup
    assert "ExecStart=/opt/owp/current/bin/owp database setup" in setup


def test_app_image_contents(image_root):
    root = image_root
    release = root / "opt/owp/releases/1.2.3"
    current = root / "opt/owp/current"
    assert current.is_symlink() and str(current.readlink()) == "releases/1.2.3"
    for b in SERVICES + ["deployer"]:
        f = current / "bin" / b
        assert f.is_file() and f.stat().st_mode & stat.S_IXUSR, b
    # The units are byte-for-byte the ones in dist/systemd.
    for unit in DIST_UNITS:
        assert (root / "etc/systemd/system" / unit.name).read_bytes() == unit.read_bytes()
    passwd = (root / "etc/passwd").read_text()
    deployer = next(line for line in passwd.splitlines() if line.startswith("owp-deployer:"))
    uid = int(deployer.split(":")[2])
    assert release.stat().st_uid == uid and (root / "opt/owp/releases").stat().st_uid == uid
    # owp-deployer reads /etc/owp/release.pub: the directory must be traversable.
    assert stat.S_IMODE((root / "etc/owp").stat().st_mode) == 0o755
    rules = (root / "etc/polkit-1/rules.d/50-owp-deployer.rules").read_text()
    assert "owp-deployer" in rules and "manage-units" in rules
    for f in ["usr/local/lib/owp/owp-journal-shipper.py", "usr/local/lib/owp/owp-database-env.py",
              "etc/systemd/system/owp-journal-shipper.service", "etc/systemd/system/owp-database-env.service",
              "etc/systemd/system/owp-launch-gate.service", "usr/local/lib/owp/owp-launch-gate.py",
              "etc/systemd/journald.conf.d/owp.conf", "usr/local/sbin/owp-mount-disk",
              "usr/lib/sysusers.d/owp.conf", "usr/lib/tmpfiles.d/owp.conf"]:
        assert (root / f).is_file(), f
    assert "OWP_IMAGE_RELEASE=1.2.3" in (root / "etc/owp/image-release").read_text()
    # The CA bundle owp-database-env's sslrootcert names, readable by the services' dynamic users.
    bundle = root / "etc/owp/rds-global-bundle.pem"
    assert "BEGIN CERTIFICATE" in bundle.read_text() and stat.S_IMODE(bundle.stat().st_mode) == 0o644
    assert '"/etc/owp/rds-global-bundle.pem"' in (PACKER / "files/app/owp-database-env.py").read_text()
    # Nothing is enabled in the image: user data enables units after it has
    # written their configuration.
    wants = root / "etc/systemd/system/multi-user.target.wants"
    assert not wants.exists() or not list(wants.iterdir())


def test_kafka_and_zookeeper_image_contents(image_root):
    root = image_root
    assert str((root / "opt/kafka").readlink()) == "kafka-3.9.1"
    assert (root / "opt/kafka/bin/kafka-server-start.sh").is_file()
    assert (root / "usr/local/sbin/owp-kafka-node").stat().st_mode & stat.S_IXUSR
    assert (root / "usr/local/sbin/owp-zookeeper-node").stat().st_mode & stat.S_IXUSR
    assert (root / "usr/local/sbin/owp-node-health").stat().st_mode & stat.S_IXUSR
    for f in ["usr/local/lib/owp/owp-node-metrics.py", "etc/systemd/system/owp-node-metrics.timer"]:
        assert (root / f).is_file(), f
    assert any(line.startswith("kafka:") for line in (root / "etc/passwd").read_text().splitlines())
    assert (root / "etc/zookeeper/owp").is_dir()
    for unit in ["kafka.service", "owp-kafka-node.service", "zookeeper.service", "owp-zookeeper-disk.service"]:
        assert (root / "etc/systemd/system" / unit).is_file()


def test_scripts_refuse_bad_input(tmp_path, release_tarball, kafka_tarball):
    env = {"ROOT": str(tmp_path / "root"), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    bad_version = run(["bash", PACKER / "scripts/app-image.sh", "--release-tarball", release_tarball, "--version", "latest"],
                      env=env, check=False)
    assert bad_version.returncode != 0 and "--version" in bad_version.stderr
    broken = make_tarball(tmp_path / "broken.tar.gz", "owp-1.0.0", {"README": (0o644, "no binaries\n")})
    missing = run(["bash", PACKER / "scripts/app-image.sh", "--release-tarball", broken, "--version", "1.0.0"],
                  env=env, check=False)
    assert missing.returncode != 0 and "bin/" in missing.stderr
    bundle = tmp_path / "bundle.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nnot the reviewed one\n-----END CERTIFICATE-----\n")
    wrong_ca = run(["bash", PACKER / "scripts/app-image.sh", "--release-tarball", release_tarball, "--version", "1.0.0",
                    "--rds-ca-bundle", bundle, "--rds-ca-sha256", "0" * 64], env=env, check=False)
    assert wrong_ca.returncode != 0 and "not the pinned" in wrong_ca.stderr
    unpinned = run(["bash", PACKER / "scripts/app-image.sh", "--release-tarball", release_tarball, "--version", "1.0.0",
                    "--rds-ca-bundle", bundle], env=env, check=False)
    assert unpinned.returncode != 0 and "--rds-ca-sha256" in unpinned.stderr
    kafka4 = run(["bash", PACKER / "scripts/kafka-image.sh", "--version", "4.0.0", "--tarball", kafka_tarball, "--sha512", "0" * 128],
                 env=env, check=False)
    assert kafka4.returncode != 0 and "3.9" in kafka4.stderr
    wrong_sum = run(["bash", PACKER / "scripts/kafka-image.sh", "--version", "3.9.1", "--tarball", kafka_tarball, "--sha512", "0" * 128],
                    env=env, check=False)
    assert wrong_sum.returncode != 0 and "sha512" in wrong_sum.stderr


@pytest.fixture(scope="module")
def verify_root(image_root):
    """The image root plus what Debian packages would have put there: the
    systemd unit library (for targets) and the interpreters ExecStart uses."""
    lib = image_root / "usr/lib/systemd/system"
    if not (lib / "multi-user.target").exists():
        shutil.copytree("/lib/systemd/system", lib, symlinks=True, dirs_exist_ok=True)
    for interpreter in ["usr/bin/python3", "usr/bin/java"]:
        f = image_root / interpreter
        if not f.exists():
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text("#!/bin/sh\n# stand-in for the Debian package's binary\n")
            f.chmod(0o755)
    return image_root


def installed_units(root):
    return sorted(p.name for p in (root / "etc/systemd/system").glob("*.service"))


def test_every_unit_is_installed_and_classified(verify_root):
    assert sorted(HARDENED + ROOT_ONESHOTS) == installed_units(verify_root)


@pytest.mark.parametrize("unit", HARDENED + ROOT_ONESHOTS)
def test_systemd_analyze_verify(verify_root, unit):
    result = run(["systemd-analyze", "verify", f"--root={verify_root}", unit], check=False)
    ours = [line for line in (result.stdout + result.stderr).splitlines() if unit in line or "/opt/" in line]
    assert result.returncode == 0 and not ours, result.stdout + result.stderr


def exposure(root, unit):
    result = run(["systemd-analyze", "security", "--offline=true", f"--root={root}", unit], check=False)
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert m, result.stdout + result.stderr
    return float(m.group(1))


@pytest.mark.parametrize("unit", HARDENED)
def test_exposure_is_at_most_3(verify_root, unit):
    assert exposure(verify_root, unit) <= MAX_EXPOSURE


@pytest.mark.parametrize("unit", ROOT_ONESHOTS)
def test_root_oneshots_stay_oneshots(verify_root, unit):
    text = (verify_root / "etc/systemd/system" / unit).read_text()
    assert "Type=oneshot" in text and "NoNewPrivileges=yes" in text and "Before=" in text
