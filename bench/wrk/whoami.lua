-- wrk -s whoami.lua http://127.0.0.1:PORT/api/v1/whoami   (env BENCH_TOKEN)
-- GET /api/v1/whoami with one reused bearer token; OK = 200 with the account's "client_id".
BENCH_METHOD = "GET"
BENCH_HEADERS = { ["Authorization"] = "Bearer " .. assert(os.getenv("BENCH_TOKEN"), "BENCH_TOKEN") }
BENCH_BODY = nil
BENCH_EXPECT = '"client_id"'
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")
