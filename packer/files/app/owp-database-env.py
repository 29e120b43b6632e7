#!/usr/bin/python3
"""Renders OWP_DATABASE_URL from the database secret at boot, and each
service's Kafka credentials from the Kafka clients secret.

The secrets (the database's: JSON with username, password, host, port,
dbname; Kafka's: JSON principal => SCRAM password) live in Secrets Manager;
only their ARNs are in user data, so no password appears in instance
metadata. Output, in $RUNTIME_DIRECTORY: database.env, and with secure Kafka
(OWP_KAFKA_CLIENTS_SECRET_ARN set) kafka-<service>.env per service that
talks to Kafka, each naming only that service's principal, plus
kafka-ca.pem, the brokers' CA certificate from OWP_KAFKA_CA_PARAMETER,
readable by every service (OWP_KAFKA_SSL_CA_LOCATION). The service units
read the .env files as optional EnvironmentFiles. This program must never
print a password.
"""

import json
import os
import re
import sys
import time
from urllib.parse import quote

# The services that talk to Kafka, each as the principal of its name
# (terraform/templates/kafka-acls.tftpl).
KAFKA_SERVICES = ("writepoint", "auth", "robots")
# What an environment file carries unquoted without systemd reinterpreting it.
PLAIN = re.compile(r"^[A-Za-z0-9._~+/=-]+$")


def database_url(secret):
    """postgres:// URL for a secret dict; TLS is required by the server."""
    user = quote(secret["username"], safe="")
    password = quote(secret["password"], safe="")
    host = secret["host"]
    port = int(secret.get("port", 5432))
    name = quote(secret.get("dbname", "owp"), safe="")
    return f"postgres://{user}:{password}@{host}:{port}/{name}?sslmode=require"


def render(secret):
    """The environment file's text; percent-encoding keeps it quote-free."""
    return f"OWP_DATABASE_URL={database_url(secret)}\n"


def kafka_env(secret, service):
    """A service's Kafka credentials as an environment file, from the clients
    secret (a dict principal => password)."""
    if service not in secret:
        raise ValueError(f"the Kafka clients secret has no password for {service}")
    password = secret[service]
    if not isinstance(password, str) or not PLAIN.match(password):
        raise ValueError(f"the Kafka password of {service} has characters an environment file cannot carry plainly")
    return f"OWP_KAFKA_SASL_USERNAME={service}\nOWP_KAFKA_SASL_PASSWORD={password}\n"


def write(out_dir, name, text, mode=0o600):
    tmp = os.path.join(out_dir, name + ".tmp")
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, os.path.join(out_dir, name))


def main():  # pragma: no cover - needs AWS
    import boto3

    arn = os.environ["OWP_DATABASE_SECRET_ARN"]
    out_dir = os.environ["RUNTIME_DIRECTORY"]
    # AWS_ENDPOINT_URL as newer SDKs honour it (Debian 12's boto3 1.26 does not): a local stand-in.
    client = boto3.client("secretsmanager", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
    value = client.get_secret_value(SecretId=arn)
    write(out_dir, "database.env", render(json.loads(value["SecretString"])))
    print("rendered OWP_DATABASE_URL", file=sys.stderr)

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
