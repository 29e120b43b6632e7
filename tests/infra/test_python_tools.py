"""The small Python programs baked into the images and the export
function: their pure logic, without AWS or a journal."""

import datetime
import importlib.util
import json
import sys
import types

import pytest

from conftest import PACKER, TERRAFORM


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


shipper = load(PACKER / "files/common/owp-journal-shipper.py", "shipper")
database_env = load(PACKER / "files/app/owp-database-env.py", "database_env")


def test_shipper_batches_stay_within_cloudwatch_limits():
    events = [("i-1/owp-robots.service", 1000 + i, "x" * 1000) for i in range(3000)]
    events += [("i-1/owp-auth.service", 5, "late"), ("i-1/owp-auth.service", 1, "early")]
    out = list(shipper.batches(events))
    robots = [b for s, b in out if s.endswith("robots.service")]
    assert sum(len(b) for b in robots) == 3000
    for stream, batch in out:
        assert len(batch) <= shipper.MAX_EVENTS
        size = sum(len(e["message"].encode()) + shipper.EVENT_OVERHEAD for e in batch)
        assert size <= shipper.MAX_BATCH_BYTES
        assert [e["timestamp"] for e in batch] == sorted(e["timestamp"] for e in batch)
    auth = [b for s, b in out if s.endswith("auth.service")][0]
    assert [e["message"] for e in auth] == ["early", "late"]


def test_shipper_truncates_oversized_events_on_a_character_boundary():
    message = "é" * shipper.MAX_EVENT_BYTES
    cut = shipper.truncate(message)
    assert len(cut.encode()) <= shipper.MAX_EVENT_BYTES
    assert cut == "é" * len(cut)


def test_shipper_unit_filter():
    assert shipper.wanted("owp-writepoint.service", ["owp-"])
    assert shipper.wanted("kafka.service", ["kafka.service", "owp-"])
    assert not shipper.wanted("sshd.service", ["owp-"])
    assert not shipper.wanted("", ["owp-"])


def test_database_url_is_percent_encoded_and_verifies_the_server_against_the_rds_ca():
    url = database_env.database_url({"username": "owp", "password": "p@ss:w/rd#?", "host": "db.local", "port": 5432, "dbname": "owp"})
    assert url == ("postgres://owp:p%40ss%3Aw%2Frd%23%3F@db.local:5432/owp"
                   "?sslmode=verify-full&sslrootcert=/etc/owp/rds-global-bundle.pem")
    # Only a secret lowers it (scripts/test-image's local PostgreSQL), and never below require.
    lowered = database_env.database_url({"username": "u", "password": "p", "host": "h", "sslmode": "require"})
    assert lowered == "postgres://u:p@h:5432/owp?sslmode=require"
    for weak in ("disable", "prefer", "allow", "verify-ca"):
        with pytest.raises(ValueError, match="sslmode"):
            database_env.database_url({"username": "u", "password": "p", "host": "h", "sslmode": weak})
    assert json  # the secrets are JSON; the renderer takes the decoded dicts


def service_secrets(**changes):
    secrets = {role: {"username": role, "password": f"pw{role}", "host": "db.rds", "port": 5432, "dbname": "owp"}
               for role in ("owp_robots", "owp_auth", "owp_translator", "owp_readpoint")}
    for role, change in changes.items():
        secrets[role] = {**secrets[role], **change}
    return secrets


def test_each_service_gets_only_its_own_role_and_the_write_point_none():
    master = {"username": "owp_master", "password": "masterpw", "host": "db.rds", "port": 5432, "dbname": "owp"}
    files = database_env.render(master, service_secrets(), ca_bundle="/ca.pem")
    assert sorted(files) == ["auth.env", "readpoint.env", "robots.env", "setup.env", "translator.env"]
    tls = "?sslmode=verify-full&sslrootcert=/ca.pem"
    assert files["readpoint.env"] == f"OWP_DATABASE_URL=postgres://owp_readpoint:pwowp_readpoint@db.rds:5432/owp{tls}\n"
    for unit, role in database_env.SERVICE_ROLES.items():
        assert files[f"{unit}.env"].count("\n") == 1 and f"//{role}:" in files[f"{unit}.env"]
        assert "masterpw" not in files[f"{unit}.env"]
    # The set-up alone has the master URL and every role's password, as `owp database setup` reads them.
    assert files["setup.env"].splitlines() == [
        f"OWP_DATABASE_URL=postgres://owp_master:masterpw@db.rds:5432/owp{tls}",
        "OWP_AUTH_DATABASE_PASSWORD=pwowp_auth",
        "OWP_READPOINT_DATABASE_PASSWORD=pwowp_readpoint",
        "OWP_ROBOTS_DATABASE_PASSWORD=pwowp_robots",
        "OWP_TRANSLATOR_DATABASE_PASSWORD=pwowp_translator",
    ]
    # The names the Rust side reads (services/owp/src/database.rs: OWP_<ROLE>_DATABASE_PASSWORD).
    assert database_env.password_variable("owp_readpoint") == "OWP_READPOINT_DATABASE_PASSWORD"


def test_service_secrets_that_do_not_fit_are_refused():
    master = {"username": "m", "password": "p", "host": "db.rds", "dbname": "owp"}
    with pytest.raises(ValueError, match="logs in as"):
        database_env.render(master, service_secrets(owp_readpoint={"username": "owp_robots"}))
    with pytest.raises(ValueError, match="host"):
        database_env.render(master, service_secrets(owp_auth={"host": "elsewhere"}))
    with pytest.raises(ValueError, match="environment file"):
        database_env.render(master, service_secrets(owp_auth={"password": "a'b"}))
    assert database_env.parse_service_secrets(
        "owp_robots=arn:r, owp_auth=arn:a,owp_translator=arn:t,owp_readpoint=arn:x") == {
        "owp_robots": "arn:r", "owp_auth": "arn:a", "owp_translator": "arn:t", "owp_readpoint": "arn:x"}
    for bad in ("owp_robots=arn:r", "owp_robots", "owp_robots=arn:r,owp_auth=arn:a,owp_translator=arn:t,owp_readpoint=arn:x,x=y"):
        with pytest.raises(ValueError, match="OWP_DATABASE_SERVICE_SECRETS"):
            database_env.parse_service_secrets(bad)


class FakeRds:
    """Just enough of the boto3 RDS client for the export handler."""

    class exceptions:
        class ExportTaskAlreadyExistsFault(Exception):
            pass

    def __init__(self, snapshots, existing=()):
        self.snapshots, self.existing, self.started = snapshots, set(existing), []

    def get_paginator(self, name):
        assert name == "describe_db_snapshots"
        snapshots = self.snapshots

        class Pages:
            def paginate(self, **kwargs):
                assert kwargs["SnapshotType"] == "automated"
                return [{"DBSnapshots": snapshots}]
        return Pages()

    def start_export_task(self, **kwargs):
        if kwargs["ExportTaskIdentifier"] in self.existing:
            raise self.exceptions.ExportTaskAlreadyExistsFault()
        self.started.append(kwargs)


def test_each_service_gets_only_its_own_kafka_principal():
    secret = {"writepoint": "wp0Secret", "auth": "au1Secret", "robots": "ro2Secret"}
    assert database_env.kafka_env(secret, "auth") == "OWP_KAFKA_SASL_USERNAME=auth\nOWP_KAFKA_SASL_PASSWORD=au1Secret\n"
    assert "wp0Secret" not in database_env.kafka_env(secret, "robots")
    with pytest.raises(ValueError, match="no password for robots"):
        database_env.kafka_env({"auth": "x"}, "robots")
    with pytest.raises(ValueError, match="cannot carry") as refused:
        database_env.kafka_env({"auth": "a b\"c"}, "auth")
    assert 'a b"c' not in str(refused.value)


def test_export_function_exports_the_newest_snapshot_once(monkeypatch):
    # The function imports boto3 at module level (Lambda provides it); a
    # stand-in module is enough here, its client() is replaced below.
    monkeypatch.setitem(sys.modules, "boto3", types.ModuleType("boto3"))
    export = load(TERRAFORM / "modules/postgres/export/export_snapshot.py", "export_snapshot")
    t = datetime.datetime(2025, 1, 1)
    snaps = [
        {"DBSnapshotIdentifier": "rds:owp-dev-a-2025-01-01-05-10", "DBSnapshotArn": "arn:old", "Status": "available", "SnapshotCreateTime": t},
        {"DBSnapshotIdentifier": "rds:owp-dev-a-2025-01-02-05-10", "DBSnapshotArn": "arn:new", "Status": "available", "SnapshotCreateTime": t + datetime.timedelta(days=1)},
        {"DBSnapshotIdentifier": "rds:owp-dev-a-2025-01-03-05-10", "DBSnapshotArn": "arn:busy", "Status": "creating", "SnapshotCreateTime": t + datetime.timedelta(days=2)},
    ]
    for key, value in {"DB_INSTANCE_IDENTIFIER": "owp-dev-a", "EXPORT_BUCKET": "b", "EXPORT_PREFIX": "owp-dev-a",
                       "EXPORT_ROLE_ARN": "arn:role", "EXPORT_KMS_KEY_ARN": "arn:key"}.items():
        monkeypatch.setenv(key, value)
    rds = FakeRds(snaps)
    monkeypatch.setattr(export.boto3, "client", lambda name: rds, raising=False)
    result = export.handler({}, None)
    assert result == {"exported": "export-rds-owp-dev-a-2025-01-02-05-10", "already": False}
    assert rds.started[0]["SourceArn"] == "arn:new" and rds.started[0]["S3BucketName"] == "b"
    rds.existing.add(result["exported"])
    assert export.handler({}, None)["already"] is True
    assert export.export_task_id("rds:" + "x" * 80).startswith("export-rds-x") and len(export.export_task_id("rds:" + "x" * 80)) <= 60
