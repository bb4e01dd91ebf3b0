-- wrk script, run with as many threads as connections: each connection is one thread
-- and replays one script of bench/ussd_mix.py (BENCH_MIX: its folder) in order, the
-- way Africa's Talking sends a session's requests (cumulative text).
-- The session id and the phone number are made here, unique per run (BENCH_RUN),
-- connection and lap through the script, so every run and every lap has callers of
-- its own: a "new" caller in the script is new to the server too.
local lines = {}
local callers = 0
local counter = 0
local thread_id = 0

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

function init(args)
  counter = 0
  secret = os.getenv("BENCH_SECRET") or ""
  run = tonumber(os.getenv("BENCH_RUN") or "0")
  local folder = os.getenv("BENCH_MIX")
  local scripts = tonumber(os.getenv("BENCH_SCRIPTS") or "16")
  local file = assert(io.open(folder .. "/mix-" .. (tid % scripts) .. ".txt"))
  callers = tonumber(file:read("*l"))
  for line in file:lines() do
    local session, caller, tail = line:match("^(%d+) (%d+) (.*)$")
    lines[#lines + 1] = {session, tonumber(caller), tail}
  end
  file:close()
  headers = {["Content-Type"] = "application/x-www-form-urlencoded", ["X-Callback-Key"] = secret}
end

request = function()
  local entry = lines[(counter % #lines) + 1]
  local lap = math.floor(counter / #lines)
  counter = counter + 1
  -- +25470 then 7 digits: run (1), connection (2), caller of this lap (4); a Kenyan
  -- mobile number's shape, so number parsing treats it as a real handset's.
  local number = string.format("%d%02d%04d", run % 10, tid % 100, (lap * callers + entry[2]) % 10000)
  local body = "sessionId=b" .. run .. "-" .. tid .. "-" .. lap .. "-" .. entry[1] ..
    "&phoneNumber=%2B25470" .. number .. entry[3]
  return wrk.format("POST", "/africastalking/ussd", headers, body)
end
