"""schemathesis hooks for scripts/test-api: NDJSON bodies, and listings given what the API hands out.

OpenAPI 3.1 cannot say "one JSON value per line", so the write point documents its NDJSON bodies
(POST /v1/documents/batch) as arrays whose elements are the lines; these hooks turn a generated
array into NDJSON lines, and an NDJSON response back into an array to check against the schema.
"""

import json
import os
import pathlib
import re
import tomllib
import urllib.parse
import zlib

import requests
import schemathesis
from schemathesis.generation.modes import GenerationMode

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


# The read point's listings take a cursor only when this API handed it out for that listing, and
# a sort only on a field the collection declares sortable (translator.toml). A generator writes a
# cursor of the documented shape that no server signed, and a field name no collection sorts on;
# such a request is refused, rightly, which "a schema-valid request is accepted" would count as a
# failure. So before a listing is sent, a well-formed `sort` becomes one the collection declares
# and a well-formed `cursor` becomes the `next_cursor` the API answers for the same request (or
# goes, when there is no next page): generated values still drive every other parameter, and a
# malformed cursor or sort (negative cases) is sent as generated. The refusal of a forged cursor
# and of an undeclared sort is tested in services/readpoint/tests/readpoint/api.rs.

LISTINGS = {"/v1/collections/{collection}", "/v1/messages"}
CURSOR = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$")
SORT = re.compile(r"^-?[A-Za-z0-9_]{1,64}$")
ROOT = pathlib.Path(__file__).resolve().parent.parent


def declared():
    """Each collection's sortable fields, and the collections served (not private)."""
    path = pathlib.Path(os.environ.get("OWP_TRANSLATOR_CONFIG", ROOT / "translator.toml"))
    with path.open("rb") as file:
        entries = tomllib.load(file)["entries"]
    sortable, private = {}, set()
    for entry in entries:
        sortable.setdefault(entry["collection_name"], []).extend(entry.get("sortable", []))
        if entry.get("visibility") == "private":
            private.add(entry["collection_name"])
    return sortable, sorted(set(sortable) - private)


SORTABLE, SERVED = declared()


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    if case.operation.path not in LISTINGS or not isinstance(case.query, dict):
        return
    query = case.query
    collection = (case.path_parameters or {}).get("collection")
    # A generated collection name is almost never one the configuration declares, so the listing
    # itself would go untested: half of the schema-valid ones (by a hash, so a seed replays) name
    # a served collection instead; the other half still meet the 404 of an unknown collection.
    mode = getattr(getattr(getattr(case, "meta", None), "generation", None), "mode", None)
    if isinstance(collection, str) and collection not in SORTABLE and mode == GenerationMode.POSITIVE:
        digest = zlib.crc32(collection.encode())
        if digest % 2 == 0:
            collection = SERVED[(digest // 2) % len(SERVED)]
            case.path_parameters["collection"] = collection
    sort = query.get("sort")
    if collection is not None and isinstance(sort, str) and SORT.match(sort):
        fields = SORTABLE.get(collection, [])
        if sort.lstrip("-") not in fields:
            if fields:
                query["sort"] = sort[: sort.startswith("-")] + fields[len(sort) % len(fields)]
            else:
                del query["sort"]
    cursor = query.get("cursor")
    if isinstance(cursor, str) and CURSOR.match(cursor):
        first_page = {name: value for name, value in query.items() if name != "cursor"}
        path = case.operation.path.replace("{collection}", urllib.parse.quote(str(collection), safe=""))
        headers = {name: value for name, value in (case.headers or {}).items() if isinstance(value, str)}
        answer = requests.get(
            case.operation.schema.get_base_url().rstrip("/") + path, params=first_page, headers=headers, timeout=20
        )
        next_cursor = answer.json().get("next_cursor") if answer.status_code == 200 else None
        if next_cursor:
            query["cursor"] = next_cursor
        else:
            del query["cursor"]
