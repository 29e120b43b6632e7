#!/usr/bin/env bash
# Shared helpers for the scripts in this directory: where state lives, logging, waiting for a
# port or a URL with a deadline. Sourced, never run.

# Where the local stack keeps its broker data, logs and pid files.
OWP_STATE_DIR="${OWP_STATE_DIR:-$HOME/.local/state/owp}"
# Cargo's target directory: outside the clone, so a fresh clone (and CI) reuses the build cache.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/owp/target}"
export PATH="$HOME/.cargo/bin:$PATH"
OWP_KAFKA_PORT="${OWP_KAFKA_PORT:-9092}"
export OWP_KAFKA_BROKERS="${OWP_KAFKA_BROKERS:-127.0.0.1:$OWP_KAFKA_PORT}"
# The tansu version the scripts install; the broker the tests were written against.
TANSU_VERSION="${TANSU_VERSION:-0.6.0}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
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
