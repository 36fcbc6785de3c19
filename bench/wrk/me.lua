-- me.lua: GET /api/me/ with "Authorization: Bearer $ACCESS_TOKEN", the same
-- request every time: signature and expiry check, one user lookup, JSON out.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local token = os.getenv("ACCESS_TOKEN")
assert(token and token ~= "", "ACCESS_TOKEN is not set")

wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Accept"] = "application/json"
count_if_exact()
