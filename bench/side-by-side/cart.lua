-- wrk script for the side-by-side benchmark. Run with one connection per thread (-t N -c N): each thread has
-- its own Lua state, so each connection is its own user with its own session cookie.
--   wrk -t50 -c50 -d10s -s cart.lua http://127.0.0.1:PORT -- <read|write> <cap>
-- read:  90 % GET /cart, 10 % GET /cart?add=x (every 10th request of a session adds)
-- write: every request GET /cart?add=x
-- read-only: one GET /cart?add=x per session (it has one then), every other request GET /cart
-- read-full: cap - 1 adds per session first (a full cart), then only GET /cart: reads of read-mostly's size
-- cap:   after <cap> adds the user drops its cookie and starts a new session, so carts stay small and
--        every configuration serves sessions of the same size whatever its speed.
-- done() prints one line `WRK_JSON {...}` for the harness.

-- Globals (not locals): done() reads them from each thread with thread:get().
mode = "read"
cap = 20
id = 0
cookie = nil   -- the sid value this user sends back
sent = nil     -- the sid value sent with the request in flight
n = 0          -- requests sent in the current session
adds = 0       -- adds sent in the current session
sessions = 0   -- sessions started (responses that gave a cookie to a user that had none)
lost = 0       -- responses that replaced the cookie the user sent with a new session: the node did not know it

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  mode = args[1] or "read"
  cap = tonumber(args[2] or "20")
  -- Spread the read workload's adds over time instead of every user adding on the same request number.
  n = id % 10
end

function request()
  n = n + 1
  local path = "/cart"
  if mode == "write" or (mode == "read" and n % 10 == 0) or (mode == "read-only" and cookie == nil)
      or (mode == "read-full" and adds < cap - 1) then
    path = "/cart?add=x"
    adds = adds + 1
  end
  sent = cookie
  local headers = {}
  if cookie then headers["Cookie"] = "sid=" .. cookie end
  return wrk.format("GET", path, headers)
end

function response(status, headers, body)
  -- Express writes "Set-Cookie", Fastify "set-cookie"; nginx passes either through as it is.
  local set = headers["Set-Cookie"] or headers["set-cookie"]
  if set then
    local value = string.match(set, "^sid=([^;]*)")
    if value and value ~= "" then
      if sent == nil then
        sessions = sessions + 1
      elseif value ~= sent then
        lost = lost + 1
      end
      cookie = value
    end
  end
  if adds >= cap then
    cookie = nil
    adds = 0
  end
end

function done(summary, latency, requests)
  local total_lost, total_sessions = 0, 0
  for _, thread in ipairs(threads) do
    total_lost = total_lost + thread:get("lost")
    total_sessions = total_sessions + thread:get("sessions")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"min":%d,"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d},'
      .. '"sessions":%d,"lost":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    total_sessions, total_lost))
end
