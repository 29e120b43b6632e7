"""The app instance starts for real: the image trusts the release key it was baked with
(/etc/owp/release.pub, readable by owp-deployer) and bakes only a release whose signature and
files verify against it; user data and the units agree on every variable; and a new instance
enters service only once the deployer runs the current release (owp-launch-gate)."""

import hashlib
import http.client
import http.server
import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import tarfile
import threading

import pytest

from conftest import PACKER, REPO, SERVICES, TEMPLATES, TERRAFORM, run

APP_IMAGE = PACKER / "scripts/app-image.sh"


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gate = load(PACKER / "files/app/owp-launch-gate.py", "launch_gate")

# --- the launch gate ------------------------------------------------------------------


@pytest.mark.parametrize("installed,current,bad,ready,expected", [
    ("1.0.0", "1.1.0", False, True, "wait"),      # the baked release, the deployer not done yet
    ("1.1.0", "1.1.0", False, False, "wait"),     # the current release, services not ready yet
    ("1.1.0", "1.1.0", False, True, "continue"),
    ("1.0.0", None, False, True, "continue"),     # nothing published yet: the baked release is it
    ("1.0.0", "1.1.0", True, True, "continue"),   # current is marked bad: deployers refuse it
    ("1.0.0", None, False, False, "wait"),
])
def test_gate_decision(installed, current, bad, ready, expected):
    assert gate.decide(installed, current, bad, ready) == expected


def test_gate_waits_for_the_deployer_then_continues():
    states = iter([("1.0.0", "1.1.0", False, True)] * 3 + [("1.1.0", "1.1.0", False, True)])
    now = [0.0]
    result = gate.wait_for_release(lambda: next(states), 100, 5, clock=lambda: now[0],
                                   sleep=lambda s: now.__setitem__(0, now[0] + s), log=lambda line: None)
    assert result == "CONTINUE" and now[0] == 15


def test_gate_abandons_at_the_deadline():
    now = [0.0]
    result = gate.wait_for_release(lambda: ("1.0.0", "1.1.0", False, True), 30, 5, clock=lambda: now[0],
                                   sleep=lambda s: now.__setitem__(0, now[0] + s), log=lambda line: None)
    assert result == "ABANDON" and now[0] == 30


def test_the_gate_reads_the_version_a_signed_pointer_names():
    signed = json.dumps({"pointer": json.dumps({"version": "1.1.0", "environment": "prod"}),
                         "signature": "untrusted comment: ..."})
    assert gate.pointer_version(signed.encode()) == "1.1.0"
    # The unsigned format deployers refuse, and garbage: no current release to wait for.
    assert gate.pointer_version(b'{"version": "1.1.0"}') is None
    assert gate.pointer_version(b"not json") is None


def test_installed_version_follows_the_current_link(tmp_path):
    (tmp_path / "releases/1.2.3").mkdir(parents=True)
    (tmp_path / "current").symlink_to("releases/1.2.3")
    assert gate.installed_version(str(tmp_path)) == "1.2.3"
    assert gate.installed_version(str(tmp_path / "nowhere")) is None


def test_the_hook_the_gate_and_the_deployer_agree():
    user_data = (TEMPLATES / "app-user-data.sh.tftpl").read_text()
    override = gate.GATE_FILE
    assert f"echo 'OWP_DEPLOYER_LOAD_BALANCER=none' >{override}" in user_data
    assert f"EnvironmentFile=-{override}" in (REPO / "dist/systemd/owp-deployer.service").read_text()
    unit = (PACKER / "files/app/owp-launch-gate.service").read_text()
    assert f"ReadWritePaths=-{os.path.dirname(override)}" in unit
    # The gate's deadline is below the hook's heartbeat, so the gate decides.
    app = (TERRAFORM / "modules/app/main.tf").read_text()
    heartbeat = int(re.search(r"heartbeat_timeout\s+= (\d+)", app).group(1))
    timeout_min = int(re.search(r"TimeoutStartSec=(\d+)min", unit).group(1))
    assert re.search(r'default_result\s+= "ABANDON"', app) and 'lifecycle_transition = "autoscaling:EC2_INSTANCE_LAUNCHING"' in app
    assert timeout_min * 60 < heartbeat
    assert float(re.search(r'OWP_LAUNCH_GATE_TIMEOUT", "(\d+)"', (PACKER / "files/app/owp-launch-gate.py").read_text()).group(1)) < timeout_min * 60
    assert "systemctl start --no-block owp-launch-gate.service" in user_data
    assert '"autoscaling:CompleteLifecycleAction"' in app

# --- user data and the units agree -------------------------------------------------------


def user_data_variables():
    text = (TEMPLATES / "app-user-data.sh.tftpl").read_text()
    body = text.split("cat >/etc/owp/owp.env <<'OWP_EOF'\n", 1)[1].split("\nOWP_EOF", 1)[0]
    return [line.split("=", 1)[0] for line in body.splitlines()]


def variables_read_by_the_code():
    """Every environment variable a program on the app image reads: the services' and the
    deployer's settings (clap `env = "..."`), and the image's Python programs."""
    names = set()
    for path in list((REPO / "services").rglob("*.rs")) + list((REPO / "deployer/src").rglob("*.rs")):
        names |= set(re.findall(r'env = "([A-Z0-9_]+)"', path.read_text()))
    for path in (PACKER / "files").rglob("*.py"):
        names |= set(re.findall(r'environ(?:\.get\(|\[)"([A-Z0-9_]+)"', path.read_text()))
        names |= set(re.findall(r'env(?:\.get\(|\[)"([A-Z0-9_]+)"', path.read_text()))
    return names


def test_every_variable_user_data_writes_is_read():
    # The AWS SDKs' region: the Rust SDK reads AWS_REGION, Debian 12's boto3 (1.26) only
    # AWS_DEFAULT_REGION (without it every boto3 client fails with NoRegionError).
    read = variables_read_by_the_code() | {"AWS_REGION", "AWS_DEFAULT_REGION"}
    unread = [v for v in user_data_variables() if v not in read]
    assert unread == [], f"user data writes variables nothing reads: {unread}"


def test_every_variable_the_units_need_is_written():
    written = set(user_data_variables())
    # What each unit cannot start without (a missing one would fail it at boot).
    needed = {
        "owp-deployer": {"OWP_DEPLOYER_BUCKET", "OWP_DEPLOYER_ENVIRONMENT", "OWP_DEPLOYER_TARGET_GROUP_ARNS"},
        "owp-journal-shipper": {"OWP_LOG_GROUP", "OWP_LOG_UNITS", "AWS_DEFAULT_REGION"},
        "owp-database-env": {"OWP_DATABASE_SECRET_ARN", "OWP_DATABASE_SERVICE_SECRETS", "AWS_DEFAULT_REGION"},
        "owp-launch-gate": {"OWP_DEPLOYER_BUCKET", "OWP_DEPLOYER_ENVIRONMENT", "OWP_AUTOSCALING_GROUP", "OWP_LAUNCH_HOOK",
                            "AWS_DEFAULT_REGION"},
        "services": {"OWP_KAFKA_BROKERS", "OWP_READ_STORE", "OWP_WRITEPOINT_ADDR", "OWP_READPOINT_ADDR", "OWP_AUTH_ADDR",
                     "OWP_TOPIC_REPLICATION"},
    }
    for unit, names in needed.items():
        assert names <= written, f"{unit} needs {sorted(names - written)}"
    for program in ("owp-launch-gate.py", "owp-database-env.py"):
        required = set(re.findall(r'env(?:iron)?\["([A-Z0-9_]+)"\]', (PACKER / "files/app" / program).read_text()))
        required -= {"RUNTIME_DIRECTORY"}  # set by systemd (RuntimeDirectory=)
        assert required <= written, f"{program} requires {sorted(required - written)}"
    # Every unit that reads owp.env is one the image installs.
    app = (TERRAFORM / "modules/app/main.tf").read_text()
    for name in ("topic_replication", "autoscaling_group", "launch_hook"):
        assert re.search(rf"^\s+{name}\s+=", app, re.M), name


# --- the release key and the signature ----------------------------------------------------


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    if not shutil.which("minisign"):
        pytest.fail("minisign is not installed (scripts/test-infra installs it)")
    d = tmp_path_factory.mktemp("keys")
    for name in ("release", "other"):
        subprocess.run(["minisign", "-G", "-W", "-p", d / f"{name}.pub", "-s", d / f"{name}.key"],
                       check=True, capture_output=True)
    return d


def signed_release(tmp_path, keys, version="1.2.3", key="release", tamper=None, extra=None):
    """A release tarball as `deployer package` writes one: bin/, manifest.json and its
    minisign signature at the top level."""
    staging = tmp_path / f"release-{version}-{key}-{tamper}-{extra}"
    files = {f"bin/{b}": f"#!/bin/sh\necho {b}\n" for b in SERVICES + ["owp", "deployer"]}
    for rel, text in files.items():
        f = staging / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
        f.chmod(0o755)
    manifest = {"format": 1, "version": version, "git_commit": "0" * 40, "created_at": "2025-01-01T00:00:00Z",
                "files": {rel: {"sha256": hashlib.sha256(text.encode()).hexdigest(), "size": len(text), "mode": 0o755}
                          for rel, text in files.items()}}
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    subprocess.run(["minisign", "-S", "-s", keys / f"{key}.key", "-m", staging / "manifest.json",
                    "-t", f"owp release {version} commit {'0' * 40}"], check=True, capture_output=True)
    if tamper:
        (staging / tamper).write_text("#!/bin/sh\necho tampered\n")
    if extra:
        (staging / extra).write_text("not listed\n")
    tarball = tmp_path / f"{staging.name}.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        for path in sorted(staging.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(staging)), recursive=False)
    return tarball


def app_image(root, tarball, version, key):
    env = {**os.environ, "ROOT": str(root)}
    run(["bash", PACKER / "scripts/base.sh"], env=env)
    return run(["bash", APP_IMAGE, "--release-tarball", tarball, "--version", version,
                "--release-public-key", key], env=env, check=False)


def test_a_signed_release_is_baked_with_its_key(tmp_path, keys):
    root = tmp_path / "root"
    result = app_image(root, signed_release(tmp_path, keys), "1.2.3", keys / "release.pub")
    assert result.returncode == 0, result.stderr
    assert "signature and every file verified" in result.stderr
    pub = root / "etc/owp/release.pub"
    assert pub.read_bytes() == (keys / "release.pub").read_bytes()
    # owp-deployer (not root) must be able to read it: world-readable, in a traversable /etc/owp.
    assert stat.S_IMODE(pub.stat().st_mode) == 0o644
    assert stat.S_IMODE((root / "etc/owp").stat().st_mode) == 0o755
    assert (root / "opt/owp/current/bin/deployer").is_file()


@pytest.mark.parametrize("case,message", [
    ({"key": "other"}, "signature does not verify"),
    ({"tamper": "bin/writepoint"}, "bin/writepoint does not match"),
    ({"extra": "bin/backdoor"}, "bin/backdoor is not in the manifest"),
    ({"version": "1.2.4"}, "manifest version '1.2.4'"),
])
def test_a_release_that_does_not_verify_is_refused(tmp_path, keys, case, message):
    root = tmp_path / "root"
    result = app_image(root, signed_release(tmp_path, keys, **case), "1.2.3", keys / "release.pub")
    assert result.returncode != 0 and message in result.stderr, result.stderr
    assert not (root / "opt/owp/current").exists()


def test_the_builder_requires_the_key(tmp_path):
    # On the image builder (ROOT=/) there is no way around the verification.
    result = run(["bash", APP_IMAGE, "--release-tarball", tmp_path / "none.tar.gz", "--version", "1.2.3"],
                 env={**os.environ, "ROOT": "/"}, check=False)
    assert result.returncode != 0
    touched = tmp_path / "owp.tar.gz"
    touched.write_text("x")
    result = run(["bash", APP_IMAGE, "--release-tarball", touched, "--version", "1.2.3"],
                 env={**os.environ, "ROOT": "/"}, check=False)
    assert result.returncode != 0 and "--release-public-key FILE is required" in result.stderr


def test_packer_passes_the_key_variable():
    text = (PACKER / "app.pkr.hcl").read_text()
    assert 'variable "release_public_key"' in text
    assert "--release-public-key /tmp/owp-packer/release.pub" in text
    bake = (REPO / "jenkins/steps/bake.sh").read_text()
    assert "release_public_key=" in bake


# --- the read store signer ------------------------------------------------------------------

class FakeDomain(http.server.BaseHTTPRequestHandler):
    """Records what arrives and answers with a JSON body."""
    seen = []

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        FakeDomain.seen.append((self.command, self.path, dict(self.headers.items()), body))
        data = b'{"acknowledged":true}'
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_HEAD = _answer

    def log_message(self, *args):
        pass


def test_the_signer_signs_and_relays(tmp_path):
    from botocore.credentials import Credentials  # tests/infra/requirements.txt

    signer = load(PACKER / "files/app/owp-search-signer.py", "search_signer")
    domain = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeDomain)
    threading.Thread(target=domain.serve_forever, daemon=True).start()
    creds = Credentials("AKIDEXAMPLE", "secret", "session-token").get_frozen_credentials()
    proxy = signer.serve("127.0.0.1:0", f"http://127.0.0.1:{domain.server_address[1]}", lambda: creds, "us-east-1")
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    FakeDomain.seen = []
    try:
        conn = http.client.HTTPConnection("127.0.0.1", proxy.server_address[1], timeout=10)
        body = b'{"docs":[{"_id":"a"}]}'
        conn.request("POST", "/owp-businesses-v1/_mget?refresh=true", body=body,
                     headers={"Content-Type": "application/json", "Connection": "keep-alive"})
        response = conn.getresponse()
        assert response.status == 201 and response.read() == b'{"acknowledged":true}'
        conn.request("HEAD", "/owp-businesses-v1")
        assert conn.getresponse().status == 201
    finally:
        proxy.shutdown()
        domain.shutdown()
    (method, path, headers, received), head = FakeDomain.seen
    assert (method, path, received) == ("POST", "/owp-businesses-v1/_mget?refresh=true", body)
    auth = headers["Authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") and "/us-east-1/es/aws4_request" in auth
    assert headers["X-Amz-Security-Token"] == "session-token" and "X-Amz-Date" in headers
    assert head[0] == "HEAD"


def test_the_signer_has_one_upstream_and_listens_on_loopback():
    signer = load(PACKER / "files/app/owp-search-signer.py", "search_signer")
    with pytest.raises(ValueError):
        signer.Upstream("ftp://example.org")
    unit = (PACKER / "files/app/owp-search-signer.service").read_text()
    user_data = (TEMPLATES / "app-user-data.sh.tftpl").read_text()
    assert "OWP_READ_STORE=http://127.0.0.1:9201" in user_data and "OWP_SEARCH_UPSTREAM=${read_store}" in user_data
    assert '"127.0.0.1:9201"' in (PACKER / "files/app/owp-search-signer.py").read_text()
    assert "DynamicUser=yes" in unit and "owp-search-signer.service" in user_data
