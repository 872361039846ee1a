-- Replays pre-built HTTP requests (a file of complete requests, NUL-separated) in order,
-- cycling, and marks the moment the N-th response arrived.
--   wrk -t1 -cC -dD --latency -s bench/replay.lua URL -- REQUESTS_FILE DONE_FILE N
-- At the N-th response this thread writes DONE_FILE and stops; the runner (benchlib.py)
-- then sends wrk SIGINT, which ends wrk's clock and prints its statistics.
local requests = {}
local count = 0
local sent = 0
local answered = 0
local target = 0
local done_file = nil

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local data = file:read("*a")
  file:close()
  for chunk in string.gmatch(data, "([^%z]+)") do
    requests[#requests + 1] = chunk
  end
  count = #requests
  done_file = args[2]
  target = tonumber(args[3]) or count
end

function request()
  sent = sent % count + 1
  return requests[sent]
end

function response(status, headers, body)
  answered = answered + 1
  if answered == target then
    local marker = io.open(done_file, "w")
    marker:write("done")
    marker:close()
    wrk.thread:stop()
  end
end
