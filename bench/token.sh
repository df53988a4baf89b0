#!/usr/bin/env bash
# keygate's token-endpoint benchmark beside its peers, plus whoami, introspection and start-up.
#
# Builds keygate (release), starts it on a fresh database, creates one service account with the
# CLI, runs ../shared/bench/run-peers.sh with keygate as its TARGET (so keygate is pinned, measured
# and stopped like every peer), then measures GET /api/v1/whoami and POST /oauth/introspect with
# wrk, and the start-up time to a healthy /healthz on the existing database. Prints one Markdown
# table: every peer, keygate, and keygate's throughput as a multiple of each peer's.
#
# Usage (from the repository root, a fresh clone is fine):
#   bench/token.sh                       # SQLite (default)
#   DB=postgres bench/token.sh           # PostgreSQL on 127.0.0.1:5432, user postgres
#   SKIP_INSTALL=1 PEERS="oidc-provider:jwt:ES256 baseline-nginx" bench/token.sh
#
# Settings (env):
#   DB            sqlite (default) | postgres
#   PG_URL        admin URL for DB=postgres (default postgres://postgres@127.0.0.1:5432/postgres);
#                 a fresh database keygate_bench_<pid> is created there and dropped at the end
#   KEYGATE_MASTER_KEY  used with DB=postgres (a random one is made if unset)
#   PEERS         passed to run-peers.sh (default: oidc-provider RS256 and ES256, authlib RS256
#                 and ES256, oxide-auth, hello-axum and nginx); PEERS=none: keygate alone
#   DURATION, WARMUP, CONNECTIONS, THREADS, REPEAT, PIN, SKIP_INSTALL: as in run-peers.sh, and
#                 used for the whoami/introspect runs too
#   PORT          keygate's port (default 8181)
#   STARTS        start-up measurements (default 5; the median is reported)
#   OUT           output folder (default: a new temporary directory, printed at the end)
#   OPS_ONLY=1    only the operations rows: token grants with metrics and request logs off
#                 (KEYGATE_METRICS=false, KEYGATE_LOG=keygate=warn,warn) and on
#                 (KEYGATE_METRICS=true, KEYGATE_LOG=keygate=info,warn, one line per request to
#                 a file), two servers up at once, OPS_PAIRS pairs (default 8) of runs
#                 alternating off, on; the result is the median of the pairs' ratios
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_PEERS="${RUN_PEERS:-$ROOT/../shared/bench/run-peers.sh}"
DB="${DB:-sqlite}"
PORT="${PORT:-8181}"
STARTS="${STARTS:-5}"
export DURATION="${DURATION:-10s}" WARMUP="${WARMUP:-3s}" CONNECTIONS="${CONNECTIONS:-32}"
export THREADS="${THREADS:-1}" REPEAT="${REPEAT:-3}" PIN="${PIN:-1}" SKIP_INSTALL="${SKIP_INSTALL:-0}"
export PEERS="${PEERS:-oidc-provider:jwt:RS256 oidc-provider:jwt:ES256 authlib:jwt:RS256 authlib:jwt:ES256 oxide-auth:signed baseline-axum baseline-nginx}"
OUT="${OUT:-$(mktemp -d -t keygate-bench.XXXXXX)}"
mkdir -p "$OUT"
WORK="$(mktemp -d -t keygate-bench-db.XXXXXX)"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

[[ -x "$RUN_PEERS" ]] || { echo "missing $RUN_PEERS (the shared peer benchmark)" >&2; exit 1; }
if ! command -v wrk >/dev/null; then
  log "installing wrk with apt"
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
SERVER_CPU=() WRK_CPU=()
if [[ "$PIN" == 1 ]] && command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then
  SERVER_CPU=(taskset -c 0) WRK_CPU=(taskset -c 1)
fi

# ---------------------------------------------------------------- build
log "cargo build --release"
(cd "$ROOT" && cargo build --release --locked --bin keygate >&2)
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/keygate"
[[ "$BIN" = /* ]] || BIN="$ROOT/$BIN"

# ---------------------------------------------------------------- database
PG_DB=""
SERVER_PID=""
ISSUER_PID=""
cleanup() {
  [[ -n "$ISSUER_PID" ]] && kill "$ISSUER_PID" 2>/dev/null
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  [[ -n "${OPS_ON_PID:-}" ]] && kill "$OPS_ON_PID" 2>/dev/null && wait "$OPS_ON_PID" 2>/dev/null
  if [[ -n "$PG_DB" ]]; then psql -q "$PG_URL" -c "drop database if exists $PG_DB" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

case "$DB" in
  sqlite)
    export KEYGATE_DATABASE_URL="sqlite://$WORK/keygate.db"
    ;;
  postgres)
    PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
    command -v psql >/dev/null || { echo "DB=postgres needs psql (apt-get install -y postgresql-client)" >&2; exit 1; }
    PG_DB="keygate_bench_$$"
    psql -q "$PG_URL" -c "create database $PG_DB" >/dev/null
    export KEYGATE_DATABASE_URL="${PG_URL%/*}/$PG_DB"
    export KEYGATE_MASTER_KEY="${KEYGATE_MASTER_KEY:-$(head -c 32 /dev/urandom | base64)}"
    ;;
  *) echo "DB must be sqlite or postgres" >&2; exit 2 ;;
esac
export KEYGATE_BIND="127.0.0.1:$PORT" KEYGATE_LOG="${KEYGATE_LOG:-keygate=warn,warn}"
BASE="http://127.0.0.1:$PORT"

log "creating the service account on $DB"
"$BIN" service-accounts create --name bench --role "Token Introspector" --output json >"$OUT/account.json"
CLIENT_ID=$(sed -n 's/.*"client_id":"\([^"]*\)".*/\1/p' "$OUT/account.json")
CLIENT_SECRET=$(sed -n 's/.*"client_secret":"\([^"]*\)".*/\1/p' "$OUT/account.json")

# ---------------------------------------------------------------- start-up time
start_server() { # starts keygate pinned like a peer; sets SERVER_PID
  "${SERVER_CPU[@]}" "$BIN" serve >>"$OUT/keygate.log" 2>&1 &
  SERVER_PID=$!
}
stop_server() {
  [[ -n "$SERVER_PID" ]] || return 0
  kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
}
healthy_ms() { # start the server, poll /healthz until 200; sets LAST_MS to the milliseconds it took
  local t0 t1
  t0=$(date +%s%N)
  start_server
  until curl -sf -o /dev/null "$BASE/healthz" 2>/dev/null; do
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "keygate exited; see $OUT/keygate.log" >&2; return 1; }
  done
  t1=$(date +%s%N)
  LAST_MS=$(( (t1 - t0) / 1000000 ))
}
median() { sort -n | awk '{a[NR]=$1} END{ if (NR) print a[int((NR+1)/2)]; else print "-" }'; }

log "start-up to healthy /healthz on the existing database, $STARTS times"
STARTUPS=()
for _ in $(seq "$STARTS"); do healthy_ms; STARTUPS+=("$LAST_MS"); stop_server; done
STARTUP_MS=$(printf '%s\n' "${STARTUPS[@]}" | median)
log "  start-up: ${STARTUPS[*]} ms (median $STARTUP_MS)"

# ---------------------------------------------------------------- metrics and request logs off / on
wrk_runs() { # LABEL SCRIPT PATH -> prints the median BENCH_RESULT line (by ok_rps) and "errors"
  local label="$1" script="$2" path="$3" r f
  f="$OUT/wrk-$label"
  [[ "$WARMUP" == 0 || "$WARMUP" == 0s ]] ||
    "${WRK_CPU[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$ROOT/bench/wrk/$script" "$BASE$path" >"$f.warmup.txt" 2>&1
  for r in $(seq "$REPEAT"); do
    "${WRK_CPU[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$ROOT/bench/wrk/$script" "$BASE$path" >"$f.run$r.txt" 2>&1
    grep '^BENCH_RESULT' "$f.run$r.txt" | tail -1
  done
}
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }
export BENCH_CLIENT_ID="$CLIENT_ID" BENCH_CLIENT_SECRET="$CLIENT_SECRET"
OPS_PAIRS="${OPS_PAIRS:-8}"
# Both servers run at once, pinned alike (each idle while the other is measured), and the runs
# alternate off, on, off, on…: a slow spell of the machine then hits both sides of a pair, and
# the result is the median of the pairs' ratios. (Starting a server per run, as before, let a
# minute of noise land on one side: pairs varied from 78 % to 106 %.)
OPS_ON_PORT=$((PORT + 1))
log "token grants with metrics and request logs off and on, both servers up, $OPS_PAIRS alternating pairs of $DURATION runs"
KEYGATE_METRICS=false KEYGATE_LOG="keygate=warn,warn" "${SERVER_CPU[@]}" "$BIN" serve >>"$OUT/keygate.log" 2>&1 &
SERVER_PID=$!
KEYGATE_BIND="127.0.0.1:$OPS_ON_PORT" KEYGATE_METRICS=true KEYGATE_LOG="keygate=info,warn" \
  "${SERVER_CPU[@]}" "$BIN" serve >>"$OUT/request-log.log" 2>&1 &
OPS_ON_PID=$!
until curl -sf -o /dev/null "$BASE/healthz" 2>/dev/null && curl -sf -o /dev/null "http://127.0.0.1:$OPS_ON_PORT/healthz" 2>/dev/null; do sleep 0.01; done
ops_run() { # LABEL PORT DURATION -> the run's OK grants/s
  "${WRK_CPU[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$3" --latency -s "$ROOT/bench/wrk/token.lua" \
    "http://127.0.0.1:$2/oauth/token" >"$OUT/wrk-ops-$1.txt" 2>&1
  field "$(grep '^BENCH_RESULT' "$OUT/wrk-ops-$1.txt" | tail -1)" ok_rps
}
[[ "$WARMUP" == 0 || "$WARMUP" == 0s ]] || { ops_run warmup-off "$PORT" "$WARMUP" >/dev/null; ops_run warmup-on "$OPS_ON_PORT" "$WARMUP" >/dev/null; }
OPS_OFF=() OPS_ON=()
for pair in $(seq "$OPS_PAIRS"); do
  OPS_OFF+=("$(ops_run "off-$pair" "$PORT" "$DURATION")")
  OPS_ON+=("$(ops_run "on-$pair" "$OPS_ON_PORT" "$DURATION")")
  log "  pair $pair: off ${OPS_OFF[-1]}, on ${OPS_ON[-1]} grants/s"
done
curl -sf "http://127.0.0.1:$OPS_ON_PORT/metrics" | grep -q '^keygate_http_requests_total' || { echo "no metrics while on" >&2; exit 1; }
kill "$OPS_ON_PID" 2>/dev/null; wait "$OPS_ON_PID" 2>/dev/null || true; OPS_ON_PID=""
stop_server
LINES=$(grep -c 'request' "$OUT/request-log.log" || true)
# off mean, on mean, median of the pairs' on/off ratios (%), mean of them
OPS_ROW=$(awk -v off="${OPS_OFF[*]}" -v on="${OPS_ON[*]}" 'BEGIN{
  n = split(off, a, " "); split(on, b, " "); so = 0; sn = 0; sr = 0
  for (i = 1; i <= n; i++) { so += a[i]; sn += b[i]; r[i] = 100 * b[i] / a[i]; sr += r[i] }
  for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (r[j] < r[i]) { t = r[i]; r[i] = r[j]; r[j] = t }
  med = (n % 2) ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2
  printf "%.0f\t%.0f\t%.1f\t%.1f", so / n, sn / n, med, sr / n }')
OPS_TABLE() {
  IFS=$'\t' read -r off on pct mean_pct <<<"$OPS_ROW"
  echo "| keygate ($DB) | POST /oauth/token, metrics and request logs off (pairs: ${OPS_OFF[*]}) | $off (mean) | | | | | | |"
  echo "| keygate ($DB) | POST /oauth/token, metrics and request logs on, $LINES log lines (pairs: ${OPS_ON[*]}) | $on (mean) | | | | | | **$pct %** of off (median of the pairs; mean $mean_pct %) |"
}
if [[ "${OPS_ONLY:-0}" == 1 ]]; then
  {
    echo "### keygate ($DB): metrics and request logs off / on — $(date -u +%F), wrk -t$THREADS -c$CONNECTIONS -d$DURATION each, $OPS_PAIRS pairs alternating between two servers up at once, pin=$PIN, $(nproc) CPUs, load before run: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo "| server | endpoint | OK req/s | range | p50 ms | p99 ms | errors | peak RSS MiB | on ÷ off |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    OPS_TABLE
    echo
    echo "Raw output: $OUT"
  } | tee "$OUT/table.md"
  exit 0
fi

# ---------------------------------------------------------------- token endpoint, with the peers
log "run-peers.sh with keygate as TARGET (output in $OUT/peers)"
VERSION="keygate $(awk -F'"' '/^version/{print $2; exit}' "$ROOT/Cargo.toml") ($DB)"
TARGET_URL="$BASE/oauth/token" TARGET_CLIENT_ID="$CLIENT_ID" TARGET_CLIENT_SECRET="$CLIENT_SECRET" \
  TARGET_NAME="keygate ($DB, jwt ES256)" TARGET_VERSION="$VERSION" TARGET_AUTH=basic \
  TARGET_CMD="exec '$BIN' serve" OUT="$OUT/peers" "$RUN_PEERS" >&2

# ---------------------------------------------------------------- whoami and introspection
summarise() { # LINES -> "ok_rps<TAB>range<TAB>p50<TAB>p99<TAB>errors"
  local all="$1" res range errs
  res=$(while read -r l; do echo "$(field "$l" ok_rps) $l"; done <<<"$all" | sort -n | awk '{a[NR]=$0} END{print a[int((NR+1)/2)]}' | cut -d' ' -f2-)
  range=$(while read -r l; do field "$l" ok_rps; done <<<"$all" | sort -n | awk 'NR==1{lo=$1} {hi=$1} END{printf "%.0f-%.0f", lo, hi}')
  errs=$(while read -r l; do echo "$(field "$l" non200) $(field "$l" bad_body) $(field "$l" sock_errors)"; done <<<"$all" |
    awk '{a+=$1; b+=$2; c+=$3} END{printf "%d+%d+%d", a, b, c}')
  printf '%s\t%s\t%s\t%s\t%s\n' "$(field "$res" ok_rps)" "$range" "$(field "$res" p50_ms)" "$(field "$res" p99_ms)" "$errs"
}

log "whoami and introspect: warm-up $WARMUP, $REPEAT x $DURATION each"
start_server
until curl -sf -o /dev/null "$BASE/healthz"; do sleep 0.01; done
TOKEN=$(curl -sf -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials "$BASE/oauth/token" |
  sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
export BENCH_TOKEN="$TOKEN" BENCH_CLIENT_ID="$CLIENT_ID" BENCH_CLIENT_SECRET="$CLIENT_SECRET"
WHOAMI=$(summarise "$(wrk_runs whoami whoami.lua /api/v1/whoami)")
INTROSPECT=$(summarise "$(wrk_runs introspect introspect.lua /oauth/introspect)")
# private_key_jwt: ES256 assertions, a unique jti each, made before the run (the replay guard
# is the one database write the token path makes).
"$BIN" service-accounts create --name bench-key --role "Token Introspector" --auth private-key-jwt \
  --generate-key --output json >"$OUT/key-account.json"
python3 -c 'import json,sys; json.dump(json.load(open(sys.argv[1]))["key_file"], open(sys.argv[2], "w"))' \
  "$OUT/key-account.json" "$OUT/key-file.json"
ASSERTION_COUNT="${ASSERTION_COUNT:-600000}"
log "making $ASSERTION_COUNT client assertions"
(cd "$ROOT" && cargo run --release --locked --quiet --example assertions -- "$OUT/key-file.json" "http://127.0.0.1:$PORT" "$ASSERTION_COUNT") >"$OUT/assertions.txt"
export BENCH_ASSERTIONS="$OUT/assertions.txt"
ASSERTION=$(summarise "$(wrk_runs assertion assertion.lua /oauth/token)")
# Workload identity federation: a trusted issuer whose JWKS a static file server holds, and
# one GitHub-Actions-shaped ES256 token reused for every request (platform tokens are reused
# by design); the issuer's key is fetched on the first request and cached from then on.
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
"$BIN" service-accounts create --name bench-admin --role Administrator --output json >"$OUT/admin-account.json"
ADMIN_TOKEN=$(curl -sf -u "$(json_field client_id <"$OUT/admin-account.json"):$(json_field client_secret <"$OUT/admin-account.json")" \
  -d grant_type=client_credentials "$BASE/oauth/token" | json_field access_token)
FED_ISSUER="http://127.0.0.1:$((PORT + 1))"
mkdir -p "$WORK/issuer"
(cd "$ROOT" && cargo run --release --locked --quiet --example federated -- "$FED_ISSUER" "$BASE" "$WORK/issuer/jwks.json") >"$OUT/federated-token.txt"
"${WRK_CPU[@]}" python3 -m http.server "$((PORT + 1))" --bind 127.0.0.1 --directory "$WORK/issuer" >"$OUT/issuer.log" 2>&1 &
ISSUER_PID=$!
until curl -sf -o /dev/null "$FED_ISSUER/jwks.json"; do sleep 0.05; done
api() { curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" -H 'content-type: application/json' -d "$2" "$BASE/api/v1/$1"; }
ISSUER_ID=$(api trusted-issuers "{\"name\":\"bench\",\"issuer\":\"$FED_ISSUER\",\"jwks_uri\":\"$FED_ISSUER/jwks.json\"}" | json_field id)
"$BIN" service-accounts create --name bench-fed --role "Token Introspector" --output json >"$OUT/fed-account.json"
api "service-accounts/$(json_field id <"$OUT/fed-account.json")/federated-credentials" \
  "{\"trusted_issuer\":\"$ISSUER_ID\",\"conditions\":[{\"claim\":\"repository\",\"equals\":\"acme/app\"},{\"claim\":\"ref\",\"matches\":\"refs/heads/release/*\"}]}" >/dev/null
export BENCH_FED_CLIENT_ID="$(json_field client_id <"$OUT/fed-account.json")" BENCH_FED_TOKEN="$(cat "$OUT/federated-token.txt")"
FEDERATED=$(summarise "$(wrk_runs federated federated.lua /oauth/token)")
kill "$ISSUER_PID" 2>/dev/null || true; ISSUER_PID=""
# The access model (issue 10): a grant with resource= for an API, the account holding a role at
# the root and another at a node two levels down (so the token carries authorization_details).
api apis '{"name":"bench-api","identifier":"https://bench.example","permissions":["p:read","p:deploy"]}' >"$OUT/api.json"
api roles '{"name":"bench reader","api":"bench-api","permissions":["p:read"]}' >/dev/null
api roles '{"name":"bench deployer","api":"bench-api","permissions":["p:deploy"]}' >/dev/null
NODE=$(api nodes '{"name":"acme","kind":"Company"}' | json_field id)
api nodes "{\"name\":\"shop\",\"kind\":\"Project\",\"parent\":\"$NODE\"}" >/dev/null
"$BIN" service-accounts create --name bench-resource --output json >"$OUT/resource-account.json"
curl -sf -X PATCH -H "Authorization: Bearer $ADMIN_TOKEN" -H 'content-type: application/json' \
  -d '{"bindings":[{"role":"bench reader","node":null},{"role":"bench deployer","node":"acme/shop"},{"role":"Token Introspector","node":null}]}' \
  "$BASE/api/v1/service-accounts/$(json_field id <"$OUT/resource-account.json")" >/dev/null
RESOURCE=$(BENCH_CLIENT_ID="$(json_field client_id <"$OUT/resource-account.json")" \
  BENCH_CLIENT_SECRET="$(json_field client_secret <"$OUT/resource-account.json")" \
  BENCH_EXTRA="&resource=https%3A%2F%2Fbench.example" summarise "$(wrk_runs resource token.lua /oauth/token)")
PLAIN=$(summarise "$(wrk_runs plain token.lua /oauth/token)")
# Personal access tokens (issue 12): whoami and introspection with a kgp_ token.
PAT=$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"name":"bench","expires_in_days":1}' "$BASE/api/v1/service-accounts/me/tokens" | json_field token)
PAT_WHOAMI=$(BENCH_TOKEN="$PAT" summarise "$(BENCH_TOKEN="$PAT" wrk_runs pat-whoami whoami.lua /api/v1/whoami)")
PAT_INTROSPECT=$(summarise "$(BENCH_TOKEN="$PAT" wrk_runs pat-introspect introspect.lua /oauth/introspect)")
RSS2=$(awk '/^VmHWM:/{printf "%.1f", $2/1024}' "/proc/$SERVER_PID/status")
stop_server

# ---------------------------------------------------------------- one table
TSV="$OUT/peers/results.tsv"
KG=$(awk -F'\t' '$1 ~ /^keygate/' "$TSV" | head -1)
KG_RPS=$(cut -f5 <<<"$KG")
ceiling_of() { awk -F'\t' -v p="$1" '$1 ~ p {print $5}' "$TSV" | head -1; }
{
  echo "### keygate ($DB) vs peers — $(date -u +%F), wrk -t$THREADS -c$CONNECTIONS -d$DURATION x$REPEAT (median), pin=$PIN, $(nproc) CPUs, load before run: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "| server | endpoint | OK req/s (median) | range | p50 ms | p99 ms | errors (non200+bad+sock) | peak RSS MiB | keygate token grants ÷ this |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
  while IFS=$'\t' read -r l v m rps okr rng p50 p99 err st rss; do
    ratio=$(awk -v a="$KG_RPS" -v b="$okr" 'BEGIN{ if (b+0 > 0 && a+0 > 0) printf "%.2f×", a/b; else print "-" }')
    [[ "$l" == keygate* ]] && ratio="1.00×"
    echo "| $l ($v) | POST /oauth/token ($m) | $okr | $rng | $p50 | $p99 | $err | $rss | $ratio |"
  done <"$TSV"
  IFS=$'\t' read -r okr rng p50 p99 err <<<"$WHOAMI"
  echo "| keygate ($DB) | GET /api/v1/whoami (reused token) | $okr | $rng | $p50 | $p99 | $err | $RSS2 | - |"
  IFS=$'\t' read -r okr rng p50 p99 err <<<"$INTROSPECT"
  echo "| keygate ($DB) | POST /oauth/introspect (Basic) | $okr | $rng | $p50 | $p99 | $err | (same process) | - |"
  IFS=$'\t' read -r okr rng p50 p99 err <<<"$ASSERTION"
  echo "| keygate ($DB) | POST /oauth/token (private_key_jwt ES256, unique jti) | $okr | $rng | $p50 | $p99 | $err | (same process) | - |"
  IFS=$'\t' read -r okr rng p50 p99 err <<<"$FEDERATED"
  echo "| keygate ($DB) | POST /oauth/token (federated ES256 platform token, cached key) | $okr | $rng | $p50 | $p99 | $err | (same process) | - |"
  IFS=$'\t' read -r okr rng p50 p99 err <<<"$PLAIN"
  echo "| keygate ($DB) | POST /oauth/token (client_secret, same process as the next rows) | $okr | $rng | $p50 | $p99 | $err | (same process) | - |"
  IFS=$'\t' read -r okr rng p50 p99 err <<<"$RESOURCE"
  echo "| keygate ($DB) | POST /oauth/token (resource=, a root and a node binding: authorization_details) | $okr | $rng | $p50 | $p99 | $err | (same process) | $(awk -v a="$okr" -v b="$(cut -f1 <<<"$PLAIN")" 'BEGIN{ if (b+0>0) printf "%.1f%% of plain", 100*a/b }') |"
  IFS=$'\t' read -r okr rng p50 p99 err <<<"$PAT_WHOAMI"
  echo "| keygate ($DB) | GET /api/v1/whoami (personal access token) | $okr | $rng | $p50 | $p99 | $err | (same process) | - |"
  IFS=$'\t' read -r okr rng p50 p99 err <<<"$PAT_INTROSPECT"
  echo "| keygate ($DB) | POST /oauth/introspect (of a personal access token) | $okr | $rng | $p50 | $p99 | $err | (same process) | - |"
  OPS_TABLE
  echo "| keygate ($DB) | start-up to healthy /healthz, existing database | ${STARTUP_MS} ms (median of $STARTS: ${STARTUPS[*]}) | | | | | | |"
  echo
  for p in baseline-nginx baseline-axum; do
    c=$(ceiling_of "$p")
    [[ -n "$c" && -n "$KG_RPS" ]] && echo "keygate token grants = $(awk -v a="$KG_RPS" -v c="$c" 'BEGIN{printf "%.1f%%", 100*a/c}') of $p ($c req/s)."
  done
  echo
  echo "#### Targets (issue 5), this run"
  echo
  echo "| target | measured | met |"
  echo "|---|---:|:---:|"
  # check LABEL MEASURED OP THRESHOLD [UNIT]: one row; '-' when a peer was not measured.
  check() {
    local label="$1" value="$2" op="$3" want="$4" unit="${5:-}" ok
    if [[ -z "$value" || "$value" == - ]]; then echo "| $label | not measured | - |"; return; fi
    ok=$(awk -v v="$value" -v w="$want" -v op="$op" 'BEGIN{ print ((op == ">=" && v >= w) || (op == "<=" && v <= w)) ? "yes" : "**no**" }')
    echo "| $label | $value$unit | $ok |"
  }
  ratio() { # PEER_PATTERN MULT: keygate ÷ peer × MULT, or '-'
    local c; c=$(ceiling_of "$1")
    [[ -n "$c" && -n "$KG_RPS" ]] && awk -v a="$KG_RPS" -v c="$c" -v m="$2" 'BEGIN{printf "%.2f", m*a/c}' || echo -
  }
  KG_P99=$(cut -f8 <<<"$KG")
  KG_ERR=$(cut -f9 <<<"$KG" | awk -F+ '{print $1+$2+$3}')
  check "POST /oauth/token ≥ 20,000 grants/s" "$KG_RPS" ">=" 20000
  check "≥ 25 % of nginx" "$(ratio 'baseline-nginx' 100)" ">=" 25 " %"
  check "≥ 30 % of hello-world axum" "$(ratio 'baseline-axum' 100)" ">=" 30 " %"
  check "≥ 10× oidc-provider ES256" "$(ratio 'oidc-provider \\(jwt ES256' 1)" ">=" 10 "×"
  check "≥ 25× oidc-provider RS256" "$(ratio 'oidc-provider \\(jwt RS256' 1)" ">=" 25 "×"
  check "token p99 ≤ 5 ms" "$KG_P99" "<=" 5 " ms"
  check "token non-200 responses = 0" "$KG_ERR" "<=" 0
  check "whoami ≥ 10,000 req/s" "$(cut -f1 <<<"$WHOAMI")" ">=" 10000
  check "introspect ≥ 10,000 req/s" "$(cut -f1 <<<"$INTROSPECT")" ">=" 10000
  check "private_key_jwt ≥ 8,000 grants/s (issue 11)" "$(cut -f1 <<<"$ASSERTION")" ">=" 8000
  check "federated ≥ 8,000 grants/s (issue 14)" "$(cut -f1 <<<"$FEDERATED")" ">=" 8000
  check "peak RSS ≤ 64 MiB" "$(cut -f11 <<<"$KG")" "<=" 64 " MiB"
  check "start-up to /healthz ≤ 200 ms" "$STARTUP_MS" "<=" 200 " ms"
  check "token grants with metrics and request logs on ≥ 95 % of off (issue 15)" "$(cut -f3 <<<"$OPS_ROW")" ">=" 95 " %"
  echo "Raw output: $OUT (peers/ holds run-peers.sh's results.md, versions.txt and wrk logs)."
} | tee "$OUT/table.md"
