# Sourced by scripts/test.sh after lib/throwaway-pg.sh: installs the Snowflake emulator
# fakesnow into a virtual environment under the script's temporary directory ($PG_TMP, removed
# on exit) and exports, for the emulator test in conflict-io/tests/analytics_tests/fakesnow.rs:
#   CONFLICTS_TEST_FAKESNOW_PYTHON  the virtual environment's python
# A preset CONFLICTS_TEST_FAKESNOW_PYTHON is used as it is (no install).
# shellcheck shell=bash

# fakesnow 0.12.1 imports a module that snowflake-connector-python 4 removed.
readonly FAKESNOW_PIP=('fakesnow==0.12.1' 'snowflake-connector-python<4')
# Debian's interpreter: the venv module and pip's wheels match the system packages.
readonly FAKESNOW_SYSTEM_PYTHON=/usr/bin/python3

if [[ -z "${CONFLICTS_TEST_FAKESNOW_PYTHON:-}" ]]; then
  if ! "$FAKESNOW_SYSTEM_PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    if is_root; then
      echo "scripts/test.sh: installing python3 python3-venv" >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq python3 python3-venv >/dev/null
    else
      die "python3 with venv is missing (the Snowflake emulator test needs it)
  install it first (as root): apt-get update && apt-get install -y python3 python3-venv"
    fi
  fi
  echo "scripts/test.sh: installing ${FAKESNOW_PIP[*]} into a virtual environment" >&2
  "$FAKESNOW_SYSTEM_PYTHON" -m venv "$PG_TMP/fakesnow-venv" ||
    die "cannot create a Python virtual environment in $PG_TMP"
  # pip keeps its wheel cache (~/.cache/pip), so later runs install without downloading.
  "$PG_TMP/fakesnow-venv/bin/pip" install --quiet --disable-pip-version-check \
    "${FAKESNOW_PIP[@]}" ||
    die "pip could not install ${FAKESNOW_PIP[*]} (PyPI must be reachable, or preset CONFLICTS_TEST_FAKESNOW_PYTHON)"
  export CONFLICTS_TEST_FAKESNOW_PYTHON="$PG_TMP/fakesnow-venv/bin/python"
fi
