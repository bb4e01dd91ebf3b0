-- wrk script, run with as many threads as connections so each connection is one thread
-- and walks its USSD sessions in order, the way Africa's Talking sends them
-- (cumulative text), five requests a session, with a fresh sessionId and caller each time
-- (the caller's number is unique per thread and session, so no session offers a resume).
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
end

request = function()
  local session = math.floor(counter / #walk)
  local text = walk[(counter % #walk) + 1]
  counter = counter + 1
  local body = "sessionId=bench-" .. tid .. "-" .. session ..
    "&serviceCode=%2A384%23&phoneNumber=%2B2547" .. string.format("%02d%06d", tid % 100, session % 1000000) ..
    "&networkCode=63902&text=" .. text:gsub("%*", "%%2A")
  return wrk.format("POST", "/africastalking/ussd",
    {["Content-Type"] = "application/x-www-form-urlencoded", ["X-Callback-Key"] = secret}, body)
end
