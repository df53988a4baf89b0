-- Shared wrk logic for keygate's whoami/introspect benchmarks (bench/token.sh).
-- The wrapper sets BENCH_METHOD, BENCH_HEADERS (table) and BENCH_BODY, and BENCH_EXPECT
-- (a string every OK 200 body contains). Environment:
--   BENCH_TOKEN   bearer token (whoami, and the token being introspected)
--   BENCH_CLIENT_ID / BENCH_CLIENT_SECRET  client credentials (introspect, HTTP Basic)
-- Prints one line "BENCH_RESULT ..." in the same format as ../shared/bench/wrk/token_common.lua.

local threads = {}
function setup(thread) table.insert(threads, thread) end

local req
function init(args)
  ok, non200, bad_body, statuses = 0, 0, 0, {}
  req = wrk.format(BENCH_METHOD, wrk.path, BENCH_HEADERS, BENCH_BODY)
end

function request() return req end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    local k = tostring(status)
    statuses[k] = (statuses[k] or 0) + 1
  elseif body == nil or not body:find(BENCH_EXPECT, 1, true) then
    bad_body = bad_body + 1
  else
    ok = ok + 1
  end
end

function done(summary, latency, requests)
  local t_ok, t_non200, t_bad, by_status = 0, 0, 0, {}
  for _, thread in ipairs(threads) do
    t_ok = t_ok + (thread:get("ok") or 0)
    t_non200 = t_non200 + (thread:get("non200") or 0)
    t_bad = t_bad + (thread:get("bad_body") or 0)
    for k, v in pairs(thread:get("statuses") or {}) do by_status[k] = (by_status[k] or 0) + v end
  end
  local e = summary.errors
  local sock_err = e.connect + e.read + e.write + e.timeout
  local secs = summary.duration / 1e6
  local st_list = {}
  for k, v in pairs(by_status) do table.insert(st_list, k .. ":" .. v) end
  table.sort(st_list)
  local st_str = #st_list > 0 and table.concat(st_list, ",") or "-"
  io.write(string.format(
    "BENCH_RESULT requests=%d ok=%d non200=%d bad_body=%d sock_errors=%d statuses=%s duration_s=%.3f rps=%.1f ok_rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f\n",
    summary.requests, t_ok, t_non200, t_bad, sock_err, st_str, secs,
    summary.requests / secs, t_ok / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, latency.max / 1000))
end
