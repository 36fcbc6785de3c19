-- common.lua: loaded by every scenario (dofile). What the scenarios share:
--
--  * setup() gives each wrk thread its number, the global `tid`;
--  * count_status() counts the responses outside 200..299 per thread
--    (`non2xx`). It needs a response() callback, and with one wrk hands every
--    response to Lua, which costs a few microseconds each: WRK_EXACT_STATUS=0
--    leaves it out of the static scenarios (me, verify), whose non-2xx count is
--    then wrk's own (statuses of 400 and above);
--  * done() prints one "RESULT key=value ..." line that bench/driver reads.

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

non2xx = 0
starved = 0
EXACT_STATUS = os.getenv("WRK_EXACT_STATUS") ~= "0"

function count_status(status)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

-- A JSON string body without quotes: escapes ", \ and control characters.
function json_escape(s)
  return (s:gsub('[%c"\\]', function(c)
    if c == '"' or c == "\\" then return "\\" .. c end
    return string.format("\\u%04x", c:byte())
  end))
end

-- The status-counting callback for the static scenarios, when it is wanted.
function count_if_exact()
  if EXACT_STATUS then
    response = function(status, headers, body) count_status(status) end
  end
end

function done(summary, latency, requests)
  local n2, nstarved = 0, 0
  for _, t in ipairs(threads) do
    n2 = n2 + (t:get("non2xx") or 0)
    nstarved = nstarved + (t:get("starved") or 0)
  end
  local mode = "exact"
  if not (EXACT_STATUS or COUNTS_EVERY_RESPONSE) then
    n2 = summary.errors.status
    mode = "ge400"
  end
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_s=%.3f rps=%.2f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f "
      .. "mean_ms=%.3f non2xx=%d non2xx_mode=%s status_ge400=%d err_connect=%d err_read=%d "
      .. "err_write=%d err_timeout=%d starved=%d\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, latency.mean / 1000,
    n2, mode, e.status, e.connect, e.read, e.write, e.timeout, nstarved))
end
