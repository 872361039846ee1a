-- Replays pre-built HTTP requests (a file of complete requests, NUL-separated) in order,
-- cycling, each connection pausing PAUSE_MS before each request: a paced load for the soak.
--   wrk -t1 -cC -dD --latency --timeout 10s -s bench/replay_paced.lua URL -- REQUESTS_FILE PAUSE_MS
-- With C connections the rate is about C / (PAUSE_MS / 1000 + latency) requests per second.
-- (wrk only paces when `delay` is defined at the top level, so this is a separate script.)
local requests = {}
local count = 0
local sent = 0
local pause_ms = 0

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local data = file:read("*a")
  file:close()
  for chunk in string.gmatch(data, "([^%z]+)") do
    requests[#requests + 1] = chunk
  end
  count = #requests
  pause_ms = tonumber(args[2]) or 0
end

function delay()
  return pause_ms
end

function request()
  sent = sent % count + 1
  return requests[sent]
end
