-- wrk -s assertion.lua http://127.0.0.1:PORT/oauth/token
-- (env BENCH_ASSERTIONS: a file of client assertions, one per line, made before the run by
-- `cargo run --release --example assertions`)
-- POST /oauth/token with grant_type=client_credentials and a private_key_jwt assertion, a
-- fresh one (unique jti) for every request: the replay guard refuses a second use, so a
-- request past the end of the file wraps around and counts as non-200. OK = 200 with an
-- access_token. Each run starts after the assertions the previous runs (warm-up included)
-- used, kept in "$BENCH_ASSERTIONS.offset" (plus a margin for requests in flight at the end):
-- a replayed assertion would be refused and soon trip the brute-force backoff.
BENCH_METHOD = "POST"
BENCH_HEADERS = { ["Content-Type"] = "application/x-www-form-urlencoded" }
BENCH_BODY = ""
BENCH_EXPECT = '"access_token"'
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local bodies, next_body = {}, 1
local offset_file = assert(os.getenv("BENCH_ASSERTIONS"), "BENCH_ASSERTIONS") .. ".offset"
local base_init = init
function init(args)
  base_init(args)
  local f = io.open(offset_file, "r")
  if f then next_body = (tonumber(f:read("*l")) or 0) + 1; f:close() end
  local prefix = "grant_type=client_credentials&client_assertion_type=" ..
    "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion="
  local path = assert(os.getenv("BENCH_ASSERTIONS"), "BENCH_ASSERTIONS")
  for line in io.lines(path) do
    bodies[#bodies + 1] = prefix .. line
  end
end

local base_done = done
function done(summary, latency, requests)
  base_done(summary, latency, requests)
  local start = 0
  local f = io.open(offset_file, "r")
  if f then start = tonumber(f:read("*l")) or 0; f:close() end
  f = io.open(offset_file, "w")
  f:write(tostring(start + summary.requests + 1000), "\n")
  f:close()
end

function request()
  local body = bodies[next_body]
  next_body = next_body % #bodies + 1
  return wrk.format(BENCH_METHOD, wrk.path, BENCH_HEADERS, body)
end
