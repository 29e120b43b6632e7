#!/usr/bin/env bash
# Builds what a release ships, in release mode: every binary of the workspace, and the deployer
# optimised for size in a target directory of its own (so it does not invalidate the workspace
# build; see deployer/README.md, "Building the deployer to ship"). With a warm cache this is a
# few seconds of cargo checking that nothing changed.
set -euo pipefail
# shellcheck source=jenkins/steps/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$repo"

say "cargo build --release --bins"
cargo build --locked --release --bins
say "cargo build --release -p deployer (opt-level s)"
cargo build --locked --release -p deployer --bin deployer \
  --config 'profile.release.opt-level="s"' --target-dir "$CARGO_TARGET_DIR/deployer-size"
