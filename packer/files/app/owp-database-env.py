#!/usr/bin/python3
"""Renders each OWP unit's database settings, and each Kafka client's
credentials, from Secrets Manager at boot.

Every database secret (JSON with username, password, host, port, dbname)
lives in Secrets Manager; only ARNs are in user data, so no password appears
in instance metadata. OWP_DATABASE_SECRET_ARN is the master user's secret;
OWP_DATABASE_SERVICE_SECRETS lists each service role's secret
(`owp_robots=ARN,owp_auth=ARN,...`). Output, in $RUNTIME_DIRECTORY:

- setup.env: the master URL and every service role's password, for
  owp-database-setup.service only (`owp database setup`);
- robots.env, auth.env, translator.env, readpoint.env: OWP_DATABASE_URL
  logged in as that service's own role, one file per service unit;
- with secure Kafka (OWP_KAFKA_CLIENTS_SECRET_ARN set: JSON principal =>
  SCRAM password), kafka-<service>.env per service that talks to Kafka, each
  naming only that service's principal, and kafka-ca.pem, the brokers' CA
  certificate from OWP_KAFKA_CA_PARAMETER, readable by every service
  (OWP_KAFKA_SSL_CA_LOCATION).

The write point gets no database settings: it holds no database credentials.
URLs ask for sslmode=verify-full against the RDS CA bundle the image carries.
This program must never print a password.
"""

import json
import os
import sys
import time
from urllib.parse import quote

# The services that talk to Kafka, each as the principal of its name
# (terraform/templates/kafka-acls.tftpl).
KAFKA_SERVICES = ("writepoint", "auth", "robots")

# Baked into the image by packer/scripts/app-image.sh (checksum pinned there).
CA_BUNDLE = "/etc/owp/rds-global-bundle.pem"
# The service units and the role each logs in as.
SERVICE_ROLES = {
    "robots": "owp_robots",
    "auth": "owp_auth",
    "translator": "owp_translator",
    "readpoint": "owp_readpoint",
}


def database_url(secret, ca_bundle=CA_BUNDLE):
    """postgres:// URL for a secret dict: TLS, the server's certificate checked
    against the RDS CA and its name against the host. A secret may lower
    sslmode (scripts/test-image does, for a local PostgreSQL whose certificate
    no RDS CA signed); Terraform's never do."""
    user = quote(secret["username"], safe="")
    password = quote(secret["password"], safe="")
    host = secret["host"]
    port = int(secret.get("port", 5432))
    name = quote(secret.get("dbname", "owp"), safe="")
    sslmode = secret.get("sslmode", "verify-full")
    if sslmode not in ("verify-full", "require"):
        raise ValueError(f"sslmode {sslmode!r} in the database secret: only verify-full or require")
    query = f"sslmode={sslmode}"
    if sslmode == "verify-full":
        query += f"&sslrootcert={quote(ca_bundle, safe='/')}"
    return f"postgres://{user}:{password}@{host}:{port}/{name}?{query}"


def password_variable(role):
    """The variable `owp database setup` reads a role's password from."""
    return f"{role.upper()}_DATABASE_PASSWORD"


def environment_value(password, role):
    """A password as systemd's EnvironmentFile reads it back unchanged: it
    interprets quotes and backslashes and trims whitespace. Terraform's are
    letters and digits (exclude_punctuation)."""
    if not password or any(c in "\"'\\" or c.isspace() or not c.isprintable() or not c.isascii() for c in password):
        raise ValueError(f"the password of {role} has characters an environment file cannot carry unchanged")
    return password


def parse_service_secrets(text):
    """`owp_robots=ARN,owp_auth=ARN` -> {role: ARN}; every service role, no other."""
    secrets = {}
    for entry in filter(None, (e.strip() for e in text.split(","))):
        role, sep, arn = entry.partition("=")
        if not sep or not arn:
            raise ValueError(f"OWP_DATABASE_SERVICE_SECRETS entry {entry!r} is not ROLE=ARN")
        secrets[role] = arn
    expected = set(SERVICE_ROLES.values())
    if set(secrets) != expected:
        raise ValueError(f"OWP_DATABASE_SERVICE_SECRETS must name exactly {sorted(expected)}, got {sorted(secrets)}")
    return secrets


def render(master, services, ca_bundle=CA_BUNDLE):
    """{file name: text} for the master secret and {role: secret}. Every
    service's secret must point at the master's database."""
    files = {}
    setup = [f"OWP_DATABASE_URL={database_url(master, ca_bundle)}"]
    for role, secret in sorted(services.items()):
        if secret["username"] != role:
            raise ValueError(f"the secret of {role} logs in as {secret['username']!r}")
        for field in ("host", "dbname"):
            if secret.get(field, "owp") != master.get(field, "owp"):
                raise ValueError(f"the secret of {role} names another {field} than the master's")
        setup.append(f"{password_variable(role)}={environment_value(secret['password'], role)}")
    files["setup.env"] = "\n".join(setup) + "\n"
    for unit, role in SERVICE_ROLES.items():
        files[f"{unit}.env"] = f"OWP_DATABASE_URL={database_url(services[role], ca_bundle)}\n"
    return files


def kafka_env(secret, service):
    """A service's Kafka credentials as an environment file, from the clients
    secret (a dict principal => password)."""
    if service not in secret:
        raise ValueError(f"the Kafka clients secret has no password for {service}")
    password = secret[service]
    if not isinstance(password, str):
        raise ValueError(f"the Kafka password of {service} is not a string")
    return f"OWP_KAFKA_SASL_USERNAME={service}\nOWP_KAFKA_SASL_PASSWORD={environment_value(password, service)}\n"


def write(out_dir, name, text, mode=0o600):
    tmp = os.path.join(out_dir, name + ".tmp")
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, os.path.join(out_dir, name))


def main():  # pragma: no cover - needs AWS
    import boto3

    out_dir = os.environ["RUNTIME_DIRECTORY"]
    # AWS_ENDPOINT_URL as newer SDKs honour it (Debian 12's boto3 1.26 does not): a local stand-in.
    client = boto3.client("secretsmanager", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))

    def secret(arn):
        return json.loads(client.get_secret_value(SecretId=arn)["SecretString"])

    master = secret(os.environ["OWP_DATABASE_SECRET_ARN"])
    services = {role: secret(arn) for role, arn in parse_service_secrets(os.environ["OWP_DATABASE_SERVICE_SECRETS"]).items()}
    for name, text in render(master, services).items():
        write(out_dir, name, text)
    print("rendered the database settings of the set-up and of each service", file=sys.stderr)

    kafka_arn = os.environ.get("OWP_KAFKA_CLIENTS_SECRET_ARN", "")
    if kafka_arn:
        kafka = json.loads(client.get_secret_value(SecretId=kafka_arn)["SecretString"])
        for service in KAFKA_SERVICES:
            write(out_dir, f"kafka-{service}.env", kafka_env(kafka, service))
        ssm = boto3.client("ssm", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
        # On an environment's first apply the brokers publish their CA a while after the app
        # instances boot: wait here (the services are ordered after this unit), then fail and
        # let the unit retry.
        deadline = time.monotonic() + 90
        while True:
            parameter = ssm.get_parameter(Name=os.environ["OWP_KAFKA_CA_PARAMETER"])["Parameter"]["Value"]
            if "BEGIN CERTIFICATE" in parameter:
                break
            if time.monotonic() > deadline:
                raise SystemExit("the Kafka CA certificate is not published yet (OWP_KAFKA_CA_PARAMETER)")
            time.sleep(5)
        # Public, and read by every service's own user.
        write(out_dir, "kafka-ca.pem", parameter, 0o644)
        print("rendered the Kafka credentials of " + ", ".join(KAFKA_SERVICES), file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    main()
