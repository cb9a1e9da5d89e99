#!/bin/sh
# The load test of docs/LOADTEST.md, as `make bench-load` runs it: builds
# idp and idp-bench, starts a fresh server pinned to SERVER_CPUS, creates
# the bench accounts, runs every scenario with the tool pinned to
# TOOL_CPUS, prints the table (and keeps the JSON), stops the server.
#
#   make bench-load                                   # SQLite: a fresh `idp demo`
#   PG_DSN=postgres://postgres@127.0.0.1:5432/bench?sslmode=disable make bench-load
#                                                     # `idp serve` on PostgreSQL
#
# Knobs (environment): DURATION (15s), WARMUP (2s), SCENARIOS (all, as
# "name:workers ..."), TOTP_USERS (1200: login-totp and step-up need
# rate x 30 s of them), USERS (16), SERVER_CPUS (0), TOOL_CPUS (1),
# PORT (18080), OUT (bench-load.json), WORK (a temp directory).
set -eu

GO=${GO:-go}
DURATION=${DURATION:-15s}
WARMUP=${WARMUP:-2s}
USERS=${USERS:-16}
TOTP_USERS=${TOTP_USERS:-1200}
SERVER_CPUS=${SERVER_CPUS:-0}
TOOL_CPUS=${TOOL_CPUS:-1}
PORT=${PORT:-18080}
OUT=${OUT:-bench-load.json}
PG_DSN=${PG_DSN:-}

ROOT=$(pwd)
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
"$GO" build -o "$WORK/idp" ./cmd/idp
"$GO" build -o "$WORK/idp-bench" ./cmd/idp-bench

# pinned CPUS: the taskset prefix that pins a command to CPUS, if any.
pinned() {
	if command -v taskset >/dev/null 2>&1 && [ -n "$1" ]; then
		echo "taskset -c $1"
	fi
}
SERVER_PIN=$(pinned "$SERVER_CPUS")
TOOL_PIN=$(pinned "$TOOL_CPUS")

# Workers per scenario: enough to keep the server's core busy (closed
# loop: each worker waits for its answer), not so many that the latency
# is mostly queueing. Override with SCENARIOS="name:N ...".
SCENARIOS=${SCENARIOS:-discovery:16 jwks:32 client-credentials:16 introspect:16 refresh:8 login:2 login:4 login-totp:4 step-up:4}

ISSUER=http://127.0.0.1:$PORT
cd "$WORK"
if [ -n "$PG_DSN" ]; then
	# idp serve on PostgreSQL: the CLI and the server share the
	# environment (database, encryption key; the key is kept in WORK so
	# the server can be started again on the same database).
	[ -f encryption.key ] || (umask 077 && head -c 32 /dev/urandom | base64 >encryption.key)
	export IDP_DATABASE_DSN="$PG_DSN" IDP_SECRETS_ENCRYPTION_KEY_FILE="$WORK/encryption.key"
	export IDP_ISSUER="$ISSUER" IDP_LISTEN="127.0.0.1:$PORT"
	$SERVER_PIN ./idp serve >server.log 2>&1 &
else
	$SERVER_PIN ./idp demo --listen "127.0.0.1:$PORT" >server.log 2>&1 &
fi
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT INT TERM
i=0
until curl -fs "$ISSUER/.well-known/openid-configuration" >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then
		cat server.log
		exit 1
	fi
	sleep 0.2
done

./idp-bench setup --idp ./idp --issuer "$ISSUER" --users "$USERS" --totp-users "$TOTP_USERS" \
	--prefix "bench$(date +%s)" --out setup.json

echo "server pid $SERVER on CPUs $SERVER_CPUS, tool on CPUs $TOOL_CPUS; $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"
cd "$ROOT"
$TOOL_PIN "$WORK/idp-bench" run --setup-file "$WORK/setup.json" --scenario "$(echo $SCENARIOS | tr ' ' ,)" \
	-d "$DURATION" --warmup "$WARMUP" --json >"$OUT"
$TOOL_PIN "$WORK/idp-bench" report "$OUT"
echo "JSON report: $OUT; server log and setup.json (secrets): $WORK"
