# Sourced by scripts/test.sh and scripts/with-pg.sh: installs what is missing (as root),
# starts a throwaway PostgreSQL 15 cluster on a private port, exports CONFLICTS_TEST_PG,
# CONFLICTS_TEST_PG_BIN and the TLS test files (CONFLICTS_TEST_PG_CA, …_OTHER_CA, …_CLIENT_CERT,
# …_CLIENT_KEY), and removes the cluster when the sourcing script exits.
#
# The cluster accepts TCP connections over TLS only (pg_hba.conf has `hostssl` lines and no
# `host` line), like a managed service with rds.force_ssl; its certificate is signed by a CA
# generated here for localhost and 127.0.0.1.
# shellcheck shell=bash

readonly PG_MAJOR=15
readonly APT_PACKAGES=(postgresql-15 unixodbc odbc-postgresql openssl)

die() {
  echo "scripts/test.sh: $*" >&2
  exit 1
}

is_root() { [[ "$(id -u)" -eq 0 ]]; }

# --- 1. System packages -----------------------------------------------------------------------

pg_bin_dir() {
  local candidate
  for candidate in "${CONFLICTS_TEST_PG_BIN:-}" "/usr/lib/postgresql/${PG_MAJOR}/bin"; do
    if [[ -n "$candidate" && -x "$candidate/initdb" && -x "$candidate/pg_ctl" ]]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

# A package counts as missing when dpkg says it is not installed; on a machine without dpkg
# only the PostgreSQL binaries can be checked.
missing_packages() {
  local pkg
  if command -v dpkg-query >/dev/null 2>&1; then
    for pkg in "${APT_PACKAGES[@]}"; do
      if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        echo "$pkg"
      fi
    done
  elif ! pg_bin_dir >/dev/null; then
    echo "postgresql-${PG_MAJOR}"
  fi
}

mapfile -t missing < <(missing_packages)
if ((${#missing[@]} > 0)); then
  if is_root; then
    echo "scripts/test.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y "${APT_PACKAGES[@]}"
  else
    die "missing system packages: ${missing[*]}
  install them first (as root): apt-get update && apt-get install -y ${APT_PACKAGES[*]}
  or point CONFLICTS_TEST_PG_BIN at a PostgreSQL ${PG_MAJOR} bin directory (ODBC tests still need the rest)"
  fi
fi

PG_BIN="$(pg_bin_dir)" || die "PostgreSQL ${PG_MAJOR} server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/${PG_MAJOR}/bin"
readonly PG_BIN

# --- 2. Throwaway cluster ---------------------------------------------------------------------

# initdb refuses to run as root, so as root the cluster belongs to the `postgres` user that the
# Debian package creates; as anyone else it belongs to that user.
PG_TMP="$(mktemp -d "${TMPDIR:-/tmp}/conflicts-pg.XXXXXX")"
readonly PG_TMP
if is_root; then
  id postgres >/dev/null 2>&1 || die "user 'postgres' does not exist (is postgresql-${PG_MAJOR} installed?)"
  chown postgres:postgres "$PG_TMP"
fi

as_cluster_owner() {
  if is_root; then
    # cd first: the postgres user may not be allowed into the caller's working directory.
    (cd "$PG_TMP" && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

cluster_started=0
cleanup() {
  local rc=$?
  if ((cluster_started)); then
    as_cluster_owner "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$PG_TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --no-sync and fsync=off: the cluster is thrown away, durability only costs time here.
as_cluster_owner "$PG_BIN/initdb" -D "$PG_TMP/data" -U postgres --auth=trust \
  --encoding=UTF8 --locale=C --no-sync >"$PG_TMP/initdb.log" 2>&1 ||
  { cat "$PG_TMP/initdb.log" >&2; die "initdb failed"; }

# --- TLS: a test CA, the server's certificate, a client certificate, an unrelated CA ----------
# EC P-256 keys: quick to generate, and accepted by every TLS library the tests use.
PG_TLS="$PG_TMP/tls"
readonly PG_TLS
mkdir -p "$PG_TLS"
command -v openssl >/dev/null 2>&1 || die "openssl not found (apt-get install openssl)"

new_ca() { # name subject
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
    -days 30 -subj "$2" -keyout "$PG_TLS/$1.key" -out "$PG_TLS/$1.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
}

signed_cert() { # name subject extensions
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
    -subj "$2" -keyout "$PG_TLS/$1.key" -out "$PG_TLS/$1.csr"
  printf '%s\n' "$3" >"$PG_TLS/$1.ext"
  openssl x509 -req -in "$PG_TLS/$1.csr" -CA "$PG_TLS/ca.crt" -CAkey "$PG_TLS/ca.key" \
    -CAcreateserial -days 30 -sha256 -extfile "$PG_TLS/$1.ext" -out "$PG_TLS/$1.crt"
}

{
  new_ca ca "/CN=conflicts test CA" &&
    new_ca other-ca "/CN=conflicts unrelated CA" &&
    signed_cert server "/CN=localhost" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1" &&
    signed_cert client "/CN=conflicts_cert_user" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
} >"$PG_TMP/openssl.log" 2>&1 || { cat "$PG_TMP/openssl.log" >&2; die "could not generate the test certificates"; }
# The server refuses a key file that others can read; certificates stay world-readable so that
# the tests (any user) can read them.
chmod 644 "$PG_TLS"/*.crt
chmod 600 "$PG_TLS"/*.key
chmod 755 "$PG_TLS"
if is_root; then
  chown postgres:postgres "$PG_TLS/server.key"
fi

# TCP only over TLS: `trust` for everyone, except conflicts_cert_user who must present a client
# certificate signed by the test CA (`cert` authentication). The socket is for local tools.
cat >"$PG_TMP/pg_hba.conf" <<EOF
local    all  all                  trust
hostssl  all  conflicts_cert_user  127.0.0.1/32  cert
hostssl  all  all                  127.0.0.1/32  trust
EOF
chmod 644 "$PG_TMP/pg_hba.conf"

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A random high port that nothing listens on; another process may still take it before the
# server binds, so a failed start is retried with a new port.
pick_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 40000))
    port_in_use "$port" || { echo "$port"; return 0; }
  done
}

PG_PORT=""
for attempt in 1 2 3 4 5; do
  port="$(pick_port)"
  cat >"$PG_TMP/cluster.conf" <<EOF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PG_TMP'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
hba_file = '$PG_TMP/pg_hba.conf'
ssl = on
ssl_cert_file = '$PG_TLS/server.crt'
ssl_key_file = '$PG_TLS/server.key'
ssl_ca_file = '$PG_TLS/ca.crt'
EOF
  chmod 644 "$PG_TMP/cluster.conf"
  # The include keeps initdb's postgresql.conf intact and puts our settings last (they win).
  grep -q "^include '$PG_TMP/cluster.conf'" "$PG_TMP/data/postgresql.conf" ||
    echo "include '$PG_TMP/cluster.conf'" >>"$PG_TMP/data/postgresql.conf"
  if as_cluster_owner "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w -t 60 start >/dev/null; then
    cluster_started=1
    PG_PORT="$port"
    break
  fi
  echo "scripts/test.sh: PostgreSQL did not start on port $port (attempt $attempt)" >&2
done
if [[ -z "$PG_PORT" ]]; then
  cat "$PG_TMP/server.log" >&2 || true
  die "could not start the throwaway PostgreSQL cluster"
fi

export CONFLICTS_TEST_PG="host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres"
export CONFLICTS_TEST_PG_BIN="$PG_BIN"
export CONFLICTS_TEST_PG_CA="$PG_TLS/ca.crt"
export CONFLICTS_TEST_PG_OTHER_CA="$PG_TLS/other-ca.crt"
export CONFLICTS_TEST_PG_CLIENT_CERT="$PG_TLS/client.crt"
export CONFLICTS_TEST_PG_CLIENT_KEY="$PG_TLS/client.key"
echo "scripts/test.sh: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT (socket dir $PG_TMP)" >&2

