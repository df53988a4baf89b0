-- wrk -s assertion.lua http://127.0.0.1:PORT/oauth/token
-- (env BENCH_ASSERTIONS: a file of client assertions, one per line, made before the run by
-- `cargo run --release --example assertions`)
-- POST /oauth/token with grant_type=client_credentials and a private_key_jwt assertion, a
-- fresh one (unique jti) for every request: the replay guard refuses a second use, so a
-- request past the end of the file wraps around and counts as non-200. OK = 200 with an
-- access_token.
BENCH_METHOD = "POST"
BENCH_HEADERS = { ["Content-Type"] = "application/x-www-form-urlencoded" }
BENCH_BODY = ""
BENCH_EXPECT = '"access_token"'
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local bodies, next_body = {}, 1
local base_init = init
function init(args)
  base_init(args)
  local prefix = "grant_type=client_credentials&client_assertion_type=" ..
    "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion="
  local path = assert(os.getenv("BENCH_ASSERTIONS"), "BENCH_ASSERTIONS")
  for line in io.lines(path) do
    bodies[#bodies + 1] = prefix .. line
  end
end

function request()
  local body = bodies[next_body]
  next_body = next_body % #bodies + 1
  return wrk.format(BENCH_METHOD, wrk.path, BENCH_HEADERS, body)
end
