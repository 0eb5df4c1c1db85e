#!/usr/bin/env bash
# The project's test command: installs what the tests need (when root), starts a throwaway
# PostgreSQL 15 cluster on a private port, runs `cargo test --workspace` against it and removes
# the cluster again, whatever the outcome. Extra arguments are passed on to `cargo test`.
#
# Exported for the tests:
#   CONFLICTS_TEST_PG      libpq key=value conninfo of the throwaway cluster (trust auth)
#   CONFLICTS_TEST_PG_BIN  directory of the PostgreSQL server binaries (initdb, pg_ctl, psql)
#   CONFLICTS_TEST_PG_CA, CONFLICTS_TEST_PG_OTHER_CA, CONFLICTS_TEST_PG_CLIENT_CERT,
#   CONFLICTS_TEST_PG_CLIENT_KEY  the TLS test files (the cluster accepts TCP over TLS only)
#   CONFLICTS_TEST_FAKESNOW_PYTHON  the Snowflake emulator's python (lib/fakesnow.sh)
set -euo pipefail

# shellcheck source=lib/throwaway-pg.sh
source "$(dirname "$0")/lib/throwaway-pg.sh"

# --- 3. ODBC ----------------------------------------------------------------------------------
# The ODBC tests build their connection string from CONFLICTS_TEST_PG and name the psqlODBC
# driver by absolute path (the vendored unixODBC cannot resolve Debian's bare driver names).
export CONFLICTS_TEST_PSQLODBC="${CONFLICTS_TEST_PSQLODBC:-/usr/lib/x86_64-linux-gnu/odbc/psqlodbcw.so}"
[[ -f "$CONFLICTS_TEST_PSQLODBC" ]] ||
  die "psqlODBC driver not found at $CONFLICTS_TEST_PSQLODBC (apt-get install odbc-postgresql, or set CONFLICTS_TEST_PSQLODBC)"

# --- 3b. Snowflake emulator (fakesnow in a virtual environment) -------------------------------
# shellcheck source=lib/fakesnow.sh
source "$(dirname "$0")/lib/fakesnow.sh"

# --- 4. Tests ---------------------------------------------------------------------------------
# Not `exec`: the EXIT trap must still stop the cluster. --no-fail-fast runs every test binary
# even after one failed, so one run shows all failures; the first failure decides the status.
status=0
cargo test --workspace --no-fail-fast "$@" || status=$?

# The fuzz targets are a separate workspace; only stable Rust is available here, so they are
# type-checked, not run. Skipped when the caller narrowed the test run with arguments.
if (($# == 0)); then
  echo "scripts/test.sh: checking that the fuzz targets build (cd fuzz && cargo check)" >&2
  (cd fuzz && cargo check --bins --quiet) || status=$?
fi
exit "$status"
