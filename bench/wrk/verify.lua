-- verify.lua: POST /api/token/verify/ {"token": $ACCESS_TOKEN}, the same
-- request every time (a check has no side effect, so repeating it is honest;
-- simplejwt also looks the token up in its blacklist).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local token = os.getenv("ACCESS_TOKEN")
assert(token and token ~= "", "ACCESS_TOKEN is not set")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.body = '{"token":"' .. json_escape(token) .. '"}'
count_if_exact()
