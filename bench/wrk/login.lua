-- login.lua: POST /api/token/ {"username", "password"}, cycling through the
-- bench users BENCH_PREFIX0..BENCH_PREFIX{BENCH_USERS-1}, each thread from its
-- own starting user. Every request is a successful login: user lookup, bcrypt
-- check at the server's cost, a new token pair.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local prefix = json_escape(os.getenv("BENCH_PREFIX") or "bench")
local nusers = tonumber(os.getenv("BENCH_USERS") or "100")
local password = json_escape(os.getenv("BENCH_PASSWORD") or "correct horse battery staple")
local headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }
local next_user = 0

function init(args)
  next_user = tid * 37
end

function request()
  local user = prefix .. (next_user % nusers)
  next_user = next_user + 1
  return wrk.format("POST", nil, headers, '{"username":"' .. user .. '","password":"' .. password .. '"}')
end

function response(status, hdrs, body)
  count_status(status)
end
