-- wrk -s federated.lua http://127.0.0.1:PORT/oauth/token
-- (env BENCH_FED_CLIENT_ID: the account's client ID; BENCH_FED_TOKEN: a platform identity
-- token from a trusted issuer, made by `cargo run --release --example federated`)
-- POST /oauth/token with grant_type=client_credentials, client_id and the platform token as
-- the client assertion (workload identity federation). The issuer's key is cached after the
-- first request; platform tokens are reused by design, so one token serves the whole run.
-- OK = 200 with an access_token.
BENCH_METHOD = "POST"
BENCH_HEADERS = { ["Content-Type"] = "application/x-www-form-urlencoded" }
BENCH_BODY = "grant_type=client_credentials&client_id=" .. assert(os.getenv("BENCH_FED_CLIENT_ID")) ..
  "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer" ..
  "&client_assertion=" .. assert(os.getenv("BENCH_FED_TOKEN"), "BENCH_FED_TOKEN")
BENCH_EXPECT = '"access_token"'
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")
