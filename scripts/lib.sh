#!/usr/bin/env bash
# Shared helpers for the scripts in this directory: where state lives, the ports of the local
# stack, logging, waiting for a port or a URL with a deadline. Sourced, never run.

# Where the local stack keeps its data, logs and pid files. OWP_STATE_DIR and the three ports
# below move a whole stack, so two can run side by side (the tests run their own).
OWP_STATE_DIR="${OWP_STATE_DIR:-$HOME/.local/state/owp}"
OWP_KAFKA_PORT="${OWP_KAFKA_PORT:-9092}"
OWP_ZOOKEEPER_PORT="${OWP_ZOOKEEPER_PORT:-2181}"
OWP_OPENSEARCH_PORT="${OWP_OPENSEARCH_PORT:-9200}"
# The Java servers' jars, one directory per server (scripts/install-deps fills it from
# scripts/stack/pom.xml).
OWP_JAVA_LIBS="${OWP_JAVA_LIBS:-$HOME/.cache/owp/java}"
# Cargo's target directory: outside the clone, so a fresh clone (and CI) reuses the build cache.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/owp/target}"
export PATH="$HOME/.cargo/bin:$PATH"

# The shape of the running stack (one node or three, ZooKeeper or KRaft), written by
# `scripts/services start` so that every later command talks to the same brokers.
OWP_STACK_NODES=1
export OWP_METADATA_MODE=zookeeper
# 1 when the brokers listen SASL_SSL with ACLs (`scripts/services start --secure`).
export OWP_STACK_SECURE=0
if [ -f "$OWP_STATE_DIR/stack.env" ]; then
  # shellcheck source=/dev/null
  source "$OWP_STATE_DIR/stack.env"
fi

# kafka_brokers: the bootstrap list of the stack's brokers (one port each, from OWP_KAFKA_PORT up).
kafka_brokers() {
  local i list=""
  for ((i = 0; i < OWP_STACK_NODES; i++)); do list+="${list:+,}127.0.0.1:$((OWP_KAFKA_PORT + i))"; done
  printf '%s\n' "$list"
}
OWP_KAFKA_BROKERS="${OWP_KAFKA_BROKERS:-$(kafka_brokers)}"
export OWP_KAFKA_BROKERS

# pom_property NAME: a version from scripts/stack/pom.xml, the one place the servers' versions live.
pom_property() {
  sed -n "s|.*<$1>\(.*\)</$1>.*|\1|p" "$(dirname "${BASH_SOURCE[0]}")/stack/pom.xml" | head -n 1
}

# Each step says when it started (seconds since the first script of this run), so a log shows
# where the time of a run went.
export OWP_RUN_STARTED="${OWP_RUN_STARTED:-$(date +%s)}"
say() { printf '\033[1m==> [%ss] %s\033[0m\n' "$(($(date +%s) - OWP_RUN_STARTED))" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# wait_port HOST PORT SECONDS: until something accepts connections there.
wait_port() {
  local host=$1 port=$2 deadline=$((SECONDS + $3))
  until (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# wait_http URL SECONDS: until the URL answers 2xx.
wait_http() {
  local url=$1 deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$url" 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
