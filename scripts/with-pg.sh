#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL 15 cluster (CONFLICTS_TEST_PG exported), for
# benchmarks and manual tries; the cluster is removed when the command ends. Example:
#   bash scripts/with-pg.sh cargo run --release -p conflict-io --example run_bench
set -euo pipefail
# shellcheck source=lib/throwaway-pg.sh
source "$(dirname "$0")/lib/throwaway-pg.sh"
status=0
"$@" || status=$?
exit "$status"
