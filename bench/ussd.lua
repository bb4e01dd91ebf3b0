-- wrk script, run with as many threads as connections so each connection is one thread
-- and walks its USSD sessions in order, the way Africa's Talking sends them
-- (cumulative text), five requests a session, each session with a fresh sessionId.
-- BENCH_RUN (0-99) keeps one run's sessions and callers apart from another's.
-- BENCH_CALLERS=new: every session is a new caller (no language remembered yet);
-- BENCH_CALLERS=returning: each connection is one caller dialling again and again
-- (their language is remembered after the first session, so each session's first
-- request costs the gateway a second trip to Redis).
local walk = {"", "1", "1*1", "1*1*98", "1*1*98*00"}
local counter = 0
local thread_id = 0

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

function init(args)
  counter = 0
  secret = os.getenv("BENCH_SECRET") or ""
  run = tonumber(os.getenv("BENCH_RUN") or "0") % 100
  returning = os.getenv("BENCH_CALLERS") == "returning"
end

request = function()
  local session = math.floor(counter / #walk)
  local text = walk[(counter % #walk) + 1]
  counter = counter + 1
  local caller = session % 1000000
  if returning then caller = 0 end
  local body = "sessionId=bench-" .. run .. "-" .. tid .. "-" .. session ..
    "&serviceCode=%2A384%23&phoneNumber=%2B25" .. string.format("%02d%02d%06d", run, tid % 100, caller) ..
    "&networkCode=63902&text=" .. text:gsub("%*", "%%2A")
  return wrk.format("POST", "/africastalking/ussd",
    {["Content-Type"] = "application/x-www-form-urlencoded", ["X-Callback-Key"] = secret}, body)
end
