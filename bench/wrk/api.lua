-- wrk (4.1) script for bench/api.py: one request mix against the Bauhinia REST API or the "hello" app.
--   BODIES  file with one JSON redemption body per line; the token AMOUNT stands for the amount
--   TOKEN   bearer token (empty for hello)
--   MODE    redemption | read | mixed | hello
--   POST_SHARE  share of redemptions in the mixed mode (default 0.5)
-- Counts responses whose status is not the expected one (201 for a redemption, 200 for a read), prints the
-- first two such bodies to stderr, and done() writes one JSON line to stdout. Run it with -t1: done() reads the
-- wrong-status count from the single thread's Lua state.

local mode = os.getenv("MODE") or "hello"
local token = os.getenv("TOKEN") or ""
local post_share = tonumber(os.getenv("POST_SHARE") or "0.5")

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local bodies = {}
local prefix = ""
local counter = 0
-- Requests in flight by expected status. wrk does not tell which connection a response comes from, so a
-- response is right when a request expecting its status is in flight (redemption 201, read 200).
local pending = {[200] = 0, [201] = 0}
local read_request, hello_request
errors = 0            -- global: read from done() through thread:get("errors")

local function random_hex(n)
  local f = io.open("/dev/urandom", "rb")
  local bytes = f and f:read(n) or nil
  if f then f:close() end
  local out = {}
  for i = 1, n do
    out[i] = string.format("%02x", bytes and bytes:byte(i) or math.random(0, 255))
  end
  return table.concat(out)
end

function init(args)
  math.randomseed(tonumber(random_hex(4), 16))
  prefix = random_hex(8) .. "-"   -- per run and thread; a counter follows
  local path = os.getenv("BODIES")
  if path and path ~= "" then
    for line in io.lines(path) do
      if line:find("%S") then table.insert(bodies, line) end
    end
  end
  if (mode == "redemption" or mode == "mixed") and #bodies == 0 then
    error("MODE=" .. mode .. " needs BODIES: a file with one JSON body per line")
  end
  -- built here, not at load: wrk.init sets the Host header just before calling init
  local auth = {}
  if token ~= "" then auth["Authorization"] = "Bearer " .. token end
  read_request = wrk.format("GET", "/v1/subscriptions?limit=20", auth)
  hello_request = wrk.format("GET", "/hello", auth)
end

local function redemption()
  counter = counter + 1
  local body = bodies[math.random(#bodies)]:gsub("AMOUNT", tostring(math.random(10000, 1000000)))
  local headers = {["Content-Type"] = "application/json", ["Idempotency-Key"] = prefix .. counter}
  if token ~= "" then headers["Authorization"] = "Bearer " .. token end
  return wrk.format("POST", "/v1/redemptions", headers, body)
end

function request()
  if mode == "redemption" or (mode == "mixed" and math.random() < post_share) then
    pending[201] = pending[201] + 1
    return redemption()
  end
  pending[200] = pending[200] + 1
  if mode == "hello" then return hello_request end
  return read_request
end

function response(status, headers, body)
  if (pending[status] or 0) > 0 then
    pending[status] = pending[status] - 1
    return
  end
  -- wrong status: settle one in-flight request of the other kind
  local other = (status == 200 or (status ~= 201 and pending[201] > 0)) and 201 or 200
  if pending[other] > 0 then pending[other] = pending[other] - 1 end
  errors = errors + 1
  if errors <= 2 then
    io.stderr:write(string.format("  unexpected %d: %s\n", status, (body or ""):sub(1, 200)))
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local bad_status = 0
  for _, t in ipairs(threads) do bad_status = bad_status + (tonumber(t:get("errors")) or 0) end
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": %d, "bad_status": %d, "socket_errors": %d, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout + bad_status, bad_status,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean))
end
