-- wrk -s token.lua http://127.0.0.1:PORT/oauth/token   (env BENCH_CLIENT_ID, BENCH_CLIENT_SECRET)
-- POST /oauth/token, client_credentials with HTTP Basic; OK = 200 with an "access_token".
-- BENCH_EXTRA (optional) is appended to the body, e.g. "&resource=https%3A%2F%2Fapi.example".
local function b64(data)
  local chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  return ((data:gsub(".", function(x)
    local r, b = "", x:byte()
    for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
    return r
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return chars:sub(c + 1, c + 1)
  end) .. ({ "", "==", "=" })[#data % 3 + 1])
end
BENCH_METHOD = "POST"
BENCH_HEADERS = {
  ["Authorization"] = "Basic " .. b64(assert(os.getenv("BENCH_CLIENT_ID")) .. ":" .. assert(os.getenv("BENCH_CLIENT_SECRET"))),
  ["Content-Type"] = "application/x-www-form-urlencoded",
}
BENCH_BODY = "grant_type=client_credentials" .. (os.getenv("BENCH_EXTRA") or "")
BENCH_EXPECT = '"access_token"'
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")
