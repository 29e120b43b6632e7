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
# The commands topic gets one partition on one machine: the command robot is its only reader,
# and the local broker's work for every fetch grows with each partition it serves (idle robots on
# three partitions of each topic kept it at 0.30 of a core, 0.21 with one for the commands). The events topic keeps three: a rebuild reads the whole of it,
# and tansu reads three short partitions faster than one long one. See README, "Known limits of
# the local broker"; production keeps the CLI's default of 3 for both.
export OWP_COMMANDS_PARTITIONS="${OWP_COMMANDS_PARTITIONS:-1}"
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
