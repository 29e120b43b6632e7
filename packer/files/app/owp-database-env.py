#!/usr/bin/python3
"""Renders OWP_DATABASE_URL from the database secret at boot.

The secret (JSON with username, password, host, port, dbname) lives in
Secrets Manager; only its ARN is in user data, so the password never appears
in instance metadata. Output: $RUNTIME_DIRECTORY/database.env, which the
service units read as an optional EnvironmentFile. This program must never
print the password.
"""

import json
import os
import sys
from urllib.parse import quote


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


def main():  # pragma: no cover - needs AWS
    import boto3

    arn = os.environ["OWP_DATABASE_SECRET_ARN"]
    out_dir = os.environ["RUNTIME_DIRECTORY"]
    # AWS_ENDPOINT_URL as newer SDKs honour it (Debian 12's boto3 1.26 does not): a local stand-in.
    client = boto3.client("secretsmanager", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
    value = client.get_secret_value(SecretId=arn)
    text = render(json.loads(value["SecretString"]))
    tmp = os.path.join(out_dir, "database.env.tmp")
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(text)
    os.replace(tmp, os.path.join(out_dir, "database.env"))
    print("rendered OWP_DATABASE_URL", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    main()
