-- refresh.lua: POST /api/token/refresh/ {"refresh": ...}, every request a
-- full, successful rotation.
--
-- A rotated refresh token is blacklisted, so resending one token would measure
-- only the 401 path, and a pool of fresh tokens large enough for a fast server
-- would take minutes of bcrypt logins to make. So each thread keeps a FIFO of
-- unused tokens, seeded from $REFRESH_SEEDS (one per line, from real logins,
-- dealt to the threads by line number), and chains them: a request takes the
-- oldest token, and a 200 puts the rotated token of its body at the back.
-- Each connection still waits for its answer before the next request.
--
-- A failed refresh breaks its chain; the spare seeds cover a few. With the
-- queue empty the last token is resent: the server answers 401 (non-2xx) and
-- the RESULT line's `starved` counts it.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")
COUNTS_EVERY_RESPONSE = true

local seeds = os.getenv("REFRESH_SEEDS")
assert(seeds and seeds ~= "", "REFRESH_SEEDS (a file of refresh tokens) is not set")
local nthreads = tonumber(os.getenv("WRK_NTHREADS") or "1")
local headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }
local queue, first, last = {}, 1, 0
local previous = "no-token"

local function push(token)
  last = last + 1
  queue[last] = token
end

function init(args)
  local line_no = 0
  for line in io.lines(seeds) do
    if line ~= "" then
      if line_no % nthreads == tid then push(line) end
      line_no = line_no + 1
    end
  end
end

function request()
  local token = previous
  if first <= last then
    token = queue[first]
    queue[first] = nil
    first = first + 1
  else
    starved = starved + 1
  end
  previous = token
  return wrk.format("POST", nil, headers, '{"refresh":"' .. token .. '"}')
end

function response(status, hdrs, body)
  count_status(status)
  if status == 200 then
    local rotated = body:match('"refresh"%s*:%s*"([^"]+)"')
    if rotated then push(rotated) end
  end
end
