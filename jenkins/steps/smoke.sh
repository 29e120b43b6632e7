#!/usr/bin/env bash
# The smoke test of a deployed environment, through its public routes, as a client would: sign
# up and log in (auth), post a new business with that session (write point), and read the
# document's outcome back (read point, which waits until there is one). The business must be
# accepted, which needs every part of the data path: write point, log, robots, projections,
# read point.
#
#   OWP_API_URL          one base URL for all three (an environment's ALB); default, with
#                        OWP_DNS_ZONE set, the environment's as terraform names it: prod
#                        https://api.<zone>, staging https://staging.<zone>
#   OWP_WRITEPOINT_URL, OWP_AUTH_URL, OWP_READPOINT_URL
#                        per service (default OWP_API_URL, else 127.0.0.1:8080, :8082, :8081)
set -euo pipefail
# shellcheck source=jenkins/steps/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ -z "${OWP_API_URL:-}" ] && [ -n "${OWP_DNS_ZONE:-}" ]; then
  case "${OWP_DEPLOYER_ENVIRONMENT:-}" in
    prod) OWP_API_URL="https://api.$OWP_DNS_ZONE" ;;
    staging) OWP_API_URL="https://staging.$OWP_DNS_ZONE" ;;
  esac
fi
writepoint="${OWP_WRITEPOINT_URL:-${OWP_API_URL:-http://127.0.0.1:8080}}"
auth="${OWP_AUTH_URL:-${OWP_API_URL:-http://127.0.0.1:8082}}"
readpoint="${OWP_READPOINT_URL:-${OWP_API_URL:-http://127.0.0.1:8081}}"

# post URL JSON [CURL ARGS...]: the response body; fails (printing it) unless the status is 2xx.
post() {
  local body status url="$1" json="$2"
  shift 2
  body="$(curl -sS --max-time 10 -w '\n%{http_code}' -X POST "$url" -H 'content-type: application/json' "$@" -d "$json")"
  status="${body##*$'\n'}"
  body="${body%$'\n'*}"
  [[ "$status" == 2* ]] || die "POST $url answered $status: $body"
  printf '%s\n' "$body"
}

# field NAME < JSON: a top-level string field.
field() { python3 -c 'import json, sys; print(json.load(sys.stdin).get(sys.argv[1]) or "")' "$1"; }

uuid() { cat /proc/sys/kernel/random/uuid; }

username="smoke-$(uuid | cut -c1-8)"
password="$(uuid)"
say "sign up and log in as $username ($auth)"
post "$auth/v1/signup" "{\"username\":\"$username\",\"password\":\"$password\"}" >/dev/null
session_id="$(post "$auth/v1/login" "{\"username\":\"$username\",\"password\":\"$password\"}" | field session_id)"
[ -n "$session_id" ] || die "login returned no session_id"

document_id="$(uuid)"
say "POST a business, document $document_id ($writepoint)"
post "$writepoint/v1/documents" "{\"item_type\":\"business\",\"document_id\":\"$document_id\",\"name\":\"Smoke Test Vegetables\"}" \
  -H "authorization: Bearer $session_id"

say "the outcome from the read point ($readpoint)"
# The read point waits (bounded) for the outcome; a few rounds cover a slow first start.
deadline=$((SECONDS + 30))
status=pending
while [ "$status" = pending ] && ((SECONDS < deadline)); do
  body="$(curl -fsS --max-time 15 -H "authorization: Bearer $session_id" "$readpoint/v1/documents/$document_id?wait=5s")" ||
    die "GET $readpoint/v1/documents/$document_id failed"
  status="$(field status <<<"$body")"
done
echo "$body"
[ "$status" = accepted ] || die "document $document_id is $status, not accepted"
say "smoke test passed: document $document_id accepted"
