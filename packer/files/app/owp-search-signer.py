#!/usr/bin/python3
"""Signs the services' read-store requests for OpenSearch fine-grained access control.

The read store domain (terraform/modules/search) admits only requests signed (SigV4) by the app
instances' role: its access policy names that role, and fine-grained access control maps it to
the domain's master user. The services speak plain HTTP(S) to OWP_READ_STORE and sign nothing,
so on every app instance OWP_READ_STORE is this proxy (http://127.0.0.1:9201): it takes each
request, signs it with the instance role's current credentials (from the instance metadata
service, refreshed before they expire) for service "es", and sends it on to OWP_SEARCH_UPSTREAM
over HTTPS, relaying the answer as it comes.

It listens on the loopback interface only, forwards to exactly one host, and must never log a
request body or a credential.
"""

import http.client
import http.server
import os
import sys
import threading
import urllib.parse

# Hop-by-hop headers (RFC 9110, 7.6.1) are not forwarded; the rest is signed and sent as is.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "host", "content-length"}


def signed_headers(method, url, headers, body, credentials, region, sign=None):
    """The headers to send upstream: the client's (minus hop-by-hop), plus SigV4 for "es"."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    kept = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
    request = AWSRequest(method=method, url=url, data=body, headers=kept)
    (sign or SigV4Auth(credentials, "es", region).add_auth)(request)
    out = dict(request.headers.items())
    out["Content-Length"] = str(len(body))
    return out


class Upstream:
    """One keep-alive connection per thread to the single upstream host."""

    def __init__(self, base):
        parsed = urllib.parse.urlsplit(base)
        if parsed.scheme not in ("https", "http") or not parsed.hostname:
            raise ValueError(f"OWP_SEARCH_UPSTREAM must be an http(s) URL, got {base!r}")
        self.base, self.scheme, self.host, self.port = base.rstrip("/"), parsed.scheme, parsed.hostname, parsed.port
        self.local = threading.local()

    def connection(self, fresh=False):
        if fresh or getattr(self.local, "conn", None) is None:
            cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
            self.local.conn = cls(self.host, self.port, timeout=120)
        return self.local.conn


def make_handler(upstream, credentials_source, region):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            url = upstream.base + self.path
            headers = signed_headers(self.command, url, dict(self.headers.items()), body,
                                     credentials_source(), region)
            for attempt in (0, 1):
                conn = upstream.connection(fresh=attempt == 1)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    response = conn.getresponse()
                    break
                except (http.client.HTTPException, OSError):
                    conn.close()
                    if attempt:
                        self.send_error(502, "read store unreachable")
                        return
            data = response.read()
            self.send_response(response.status, response.reason)
            for key, value in response.getheaders():
                if key.lower() not in HOP_BY_HOP:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _forward

        def log_message(self, fmt, *args):
            pass

    return Handler


def serve(listen, upstream_url, credentials_source, region):
    host, port = listen.rsplit(":", 1)
    server = http.server.ThreadingHTTPServer((host, int(port)), make_handler(Upstream(upstream_url), credentials_source, region))
    server.daemon_threads = True
    return server


def main():  # pragma: no cover - needs the instance role
    import botocore.session

    credentials = botocore.session.get_session().get_credentials()
    region = os.environ["AWS_REGION"]
    server = serve(os.environ.get("OWP_SEARCH_SIGNER_ADDR", "127.0.0.1:9201"), os.environ["OWP_SEARCH_UPSTREAM"],
                   credentials.get_frozen_credentials, region)
    print(f"owp-search-signer: {server.server_address} -> {os.environ['OWP_SEARCH_UPSTREAM']}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":  # pragma: no cover
    main()
