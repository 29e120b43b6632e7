"""schemathesis hooks for scripts/test-api: NDJSON request and response bodies.

OpenAPI 3.1 cannot say "one JSON value per line", so the write point documents its NDJSON bodies
(POST /v1/documents/batch) as arrays whose elements are the lines; these hooks turn a generated
array into NDJSON lines, and an NDJSON response back into an array to check against the schema.
"""

import json

import schemathesis

NDJSON = ("application/x-ndjson",)


@schemathesis.serializer(*NDJSON)
def to_ndjson(ctx, value):
    if value is None:
        return None
    lines = value if isinstance(value, list) else [value]
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


@schemathesis.deserializer(*NDJSON)
def from_ndjson(ctx, response):
    # Lines end at "\n" only: str.splitlines() would also split inside strings, at U+0085 or U+2028.
    return [json.loads(line) for line in response.content.split(b"\n") if line.strip()]
