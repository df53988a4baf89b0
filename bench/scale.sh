#!/usr/bin/env bash
# keygate with many accounts: token grants/s with 1 account and with COUNT accounts, and the
# server time of the account list (first page, a deep keyset page, name searches).
#
# Seeds COUNT accounts through the store (bench/seed.rs: multi-row inserts in transactions),
# then serves the database pinned to CPU 0 (wrk on CPU 1) and measures:
#   - POST /oauth/token with one seeded account, alternating run by run with the same wrk run\n#     against a 1-account database served beside it (so both share the machine's conditions)
#   - GET /api/v1/service-accounts as an Administrator: first page, a page deep in the keyset
#     order, and name searches (common word, rare number, one account), each the median of
#     RUNS curl time_total values over loopback after one warm-up request.
#
# Usage:  bench/scale.sh                 # SQLite, 1,000,000 accounts
#         DB=postgres bench/scale.sh     # PostgreSQL on 127.0.0.1:5432 (user postgres)
#         COUNT=100000 DURATION=5s bench/scale.sh
# Settings (env): DB, COUNT (1000000), RUNS (7), DURATION (10s), WARMUP (3s), REPEAT (3),
#   CONNECTIONS (32), PORT (8182), PG_URL (postgres://postgres@127.0.0.1:5432/postgres),
#   OUT (a new temporary directory)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DB="${DB:-sqlite}" COUNT="${COUNT:-1000000}" RUNS="${RUNS:-7}" PORT="${PORT:-8182}"
DURATION="${DURATION:-10s}" WARMUP="${WARMUP:-3s}" REPEAT="${REPEAT:-3}" CONNECTIONS="${CONNECTIONS:-32}"
OUT="${OUT:-$(mktemp -d -t keygate-scale.XXXXXX)}"
mkdir -p "$OUT"
WORK="$(mktemp -d -t keygate-scale-db.XXXXXX)"
TOKEN_LUA="$ROOT/../shared/bench/wrk/token_basic.lua"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

command -v wrk >/dev/null || apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
[[ -f "$TOKEN_LUA" ]] || { echo "missing $TOKEN_LUA (the shared peer benchmark)" >&2; exit 1; }
SERVER_CPU=() WRK_CPU=()
if command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then SERVER_CPU=(taskset -c 0) WRK_CPU=(taskset -c 1); fi

log "cargo build --release (keygate and the seeder)"
(cd "$ROOT" && cargo build --release --locked --bin keygate --example seed >&2)
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"; [[ "$TARGET" = /* ]] || TARGET="$ROOT/$TARGET"
BIN="$TARGET/release/keygate" SEED="$TARGET/release/examples/seed"

PG_DBS=() SERVER_PID=""
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  for d in "${PG_DBS[@]}"; do psql -q "$PG_URL" -c "drop database if exists $d" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

new_db() { # NAME -> sets KEYGATE_DATABASE_URL to a fresh database
  case "$DB" in
    sqlite) export KEYGATE_DATABASE_URL="sqlite://$WORK/$1.db" ;;
    postgres)
      local d="keygate_scale_$1_$$"
      psql -q "$PG_URL" -c "create database $d" >/dev/null; PG_DBS+=("$d")
      export KEYGATE_DATABASE_URL="${PG_URL%/*}/$d"
      export KEYGATE_MASTER_KEY="${KEYGATE_MASTER_KEY:-$(head -c 32 /dev/urandom | base64)}" ;;
    *) echo "DB must be sqlite or postgres" >&2; exit 2 ;;
  esac
}
export KEYGATE_BIND="127.0.0.1:$PORT" KEYGATE_LOG="${KEYGATE_LOG:-keygate=warn,warn}"
BASE="http://127.0.0.1:$PORT"
start_server() { # [PORT]: starts keygate on KEYGATE_DATABASE_URL; sets SERVER_PID
  local port="${1:-$PORT}"
  KEYGATE_BIND="127.0.0.1:$port" "${SERVER_CPU[@]}" "$BIN" serve >>"$OUT/keygate.log" 2>&1 &
  SERVER_PID=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$port/healthz"; do sleep 0.02; done
}
stop_server() { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }
json_field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
median() { sort -n | awk '{a[NR]=$1} END{ if (NR) print a[int((NR+1)/2)]; else print "-" }'; }

wrk_run() { # URL CLIENT_ID SECRET DURATION [OUTFILE] -> BENCH_RESULT line
  TOKEN_CLIENT_ID="$2" TOKEN_CLIENT_SECRET="$3" "${WRK_CPU[@]}" wrk -t1 -c"$CONNECTIONS" -d"$4" --latency -s "$TOKEN_LUA" "$1/oauth/token" 2>&1 |
    tee "${5:-/dev/null}" | grep '^BENCH_RESULT'
}
summary() { # BENCH_RESULT lines -> "ok_rps p99_ms errors" of the median run (by ok_rps)
  local all="$1" med errs
  med=$(while read -r l; do echo "$(field "$l" ok_rps) $l"; done <<<"$all" | sort -n | awk '{a[NR]=$0} END{print a[int((NR+1)/2)]}' | cut -d' ' -f2-)
  errs=$(while read -r l; do echo "$(field "$l" non200) $(field "$l" sock_errors)"; done <<<"$all" | awk '{a+=$1+$2} END{print a+0}')
  echo "$(field "$med" ok_rps) $(field "$med" p99_ms) $errs"
}

# ---------------------------------------------------------------- COUNT accounts
new_db one
ONE_URL="$KEYGATE_DATABASE_URL"
"$BIN" service-accounts create --name bench --role "Token Introspector" --output json >"$OUT/one.json"
new_db many
log "seeding $COUNT accounts ($DB)"
T0=$(date +%s.%N)
"$SEED" --count "$COUNT" >"$OUT/seeded.json"
SEED_S=$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.0f", b-a}')
"$BIN" service-accounts create --name zz-bench-admin --role Administrator --output json >"$OUT/admin.json"
MANY_URL="$KEYGATE_DATABASE_URL"

# Both databases are served at once (the 1-account one on PORT+1) and their token runs
# alternate (1, COUNT, 1, COUNT, ...), so both see the same machine conditions.
log "token grants, 1-account and $COUNT-account databases, alternating $REPEAT x $DURATION"
ONE_BASE="http://127.0.0.1:$((PORT + 1))"
KEYGATE_DATABASE_URL="$ONE_URL" start_server $((PORT + 1))
ONE_PID="$SERVER_PID"
KEYGATE_DATABASE_URL="$MANY_URL" start_server
ONE_ID=$(json_field client_id <"$OUT/one.json") ONE_SECRET=$(json_field client_secret <"$OUT/one.json")
MANY_ID=$(json_field client_id <"$OUT/seeded.json") MANY_SECRET=$(json_field client_secret <"$OUT/seeded.json")
wrk_run "$ONE_BASE" "$ONE_ID" "$ONE_SECRET" "$WARMUP" >/dev/null
wrk_run "$BASE" "$MANY_ID" "$MANY_SECRET" "$WARMUP" >/dev/null
ONE_ALL="" MANY_ALL=""
for r in $(seq "$REPEAT"); do
  ONE_ALL+="$(wrk_run "$ONE_BASE" "$ONE_ID" "$ONE_SECRET" "$DURATION" "$OUT/wrk-one-$r.txt")"$'\n'
  MANY_ALL+="$(wrk_run "$BASE" "$MANY_ID" "$MANY_SECRET" "$DURATION" "$OUT/wrk-many-$r.txt")"$'\n'
done
kill "$ONE_PID" 2>/dev/null || true; wait "$ONE_PID" 2>/dev/null || true
read -r ONE_RPS ONE_P99 ONE_ERR <<<"$(summary "${ONE_ALL%$'\n'}")"
read -r MANY_RPS MANY_P99 MANY_ERR <<<"$(summary "${MANY_ALL%$'\n'}")"
log "  1 account: $ONE_RPS grants/s, p99 $ONE_P99 ms, errors $ONE_ERR"
log "  $COUNT accounts: $MANY_RPS grants/s, p99 $MANY_P99 ms, errors $MANY_ERR"

ADMIN_TOKEN=$(curl -sf -u "$(json_field client_id <"$OUT/admin.json"):$(json_field client_secret <"$OUT/admin.json")" \
  -d grant_type=client_credentials "$BASE/oauth/token" | json_field access_token)
list_ms() { # QUERY -> median time_total in ms of GET /api/v1/service-accounts?QUERY; checks 200
  local q="$1" code t times=()
  curl -s -o /dev/null -H "Authorization: Bearer $ADMIN_TOKEN" "$BASE/api/v1/service-accounts?$q"
  for _ in $(seq "$RUNS"); do
    read -r code t < <(curl -s -o "$OUT/list.json" -w '%{http_code} %{time_total}\n' -H "Authorization: Bearer $ADMIN_TOKEN" "$BASE/api/v1/service-accounts?$q")
    [[ "$code" == 200 ]] || { echo "list ?$q answered $code: $(head -c 300 "$OUT/list.json")" >&2; exit 1; }
    times+=("$(awk -v t="$t" 'BEGIN{printf "%.2f", t*1000}')")
  done
  printf '%s\n' "${times[@]}" | median
}
DEEP_CURSOR=$(printf 'svc-%07d\n' $((COUNT * 9 / 10)) | base64 -w0 | tr '+/' '-_' | tr -d '=')
RARE=$(printf '%07d' $((COUNT / 3)))
declare -A LIST=() ITEMS=()
for spec in "first page|limit=50" "deep page (keyset, 90% in)|limit=50&cursor=$DEEP_CURSOR" \
            "search, common word (q=billing, 2% match)|limit=50&q=billing" \
            "search, rare (q=4242)|limit=50&q=4242" "search, one account (q=$RARE)|limit=50&q=$RARE" \
            "search, no match (q=nomatch)|limit=50&q=nomatch"; do
  label="${spec%%|*}"; LIST[$label]=$(list_ms "${spec#*|}")
  ITEMS[$label]=$({ grep -o '"client_id"' "$OUT/list.json" || true; } | wc -l)
  log "  $label: ${LIST[$label]} ms (${ITEMS[$label]} items)"
done
RSS=$(awk '/^VmHWM:/{printf "%.1f", $2/1024}' "/proc/$SERVER_PID/status")
stop_server

{
  echo "### keygate at scale ($DB, $COUNT accounts) — $(date -u +%F), $(nproc) CPUs, load before run: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "| measurement | value | detail |"
  echo "|---|---:|---|"
  echo "| token grants/s, 1 account | $ONE_RPS | p99 $ONE_P99 ms, errors $ONE_ERR (wrk -t1 -c$CONNECTIONS -d$DURATION, median of $REPEAT) |"
  echo "| token grants/s, $COUNT accounts | $MANY_RPS | p99 $MANY_P99 ms, errors $MANY_ERR; $(awk -v a="$MANY_RPS" -v b="$ONE_RPS" 'BEGIN{printf "%.1f%%", 100*a/b}') of 1 account |"
  for spec in "first page" "deep page (keyset, 90% in)" "search, common word (q=billing, 2% match)" "search, rare (q=4242)" "search, one account (q=$RARE)" "search, no match (q=nomatch)"; do
    echo "| list: $spec | ${LIST[$spec]} ms | ${ITEMS[$spec]} items; curl time_total over loopback, median of $RUNS |"
  done
  echo "| seeding | ${SEED_S} s | bench/seed.rs, multi-row inserts, 10,000 a transaction |"
  echo "| peak RSS (scale server) | ${RSS} MiB | VmHWM after the runs above |"
} | tee "$OUT/table.md"
