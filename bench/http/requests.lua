-- Each request different, for wrk: a new address per sign-up, a new token per unsubscribe.
-- Arguments after "--": kind (form, json, unsubscribe, bare), address prefix or token file,
-- and wrk's thread count. Thread i sends addresses/tokens i, i + threads, i + 2 * threads, ...
local threads_created = 0

function setup(thread)
  thread:set("thread_no", threads_created)
  threads_created = threads_created + 1
end

function init(args)
  kind = args[1]
  source = args[2]
  threads = tonumber(args[3])
  sent = 0
  tokens = {}
  if kind == "unsubscribe" then
    local line_no = 0
    for line in io.lines(source) do
      if line_no % threads == thread_no then
        tokens[#tokens + 1] = line
      end
      line_no = line_no + 1
    end
  end
end

function request()
  sent = sent + 1
  if kind == "unsubscribe" then
    -- Past the last token a thread starts over; the benchmark reports it (repeats change nothing).
    local token = tokens[((sent - 1) % #tokens) + 1]
    return wrk.format("POST", "/unsubscribe/" .. token,
      {["Content-Type"] = "application/x-www-form-urlencoded"}, "List-Unsubscribe=One-Click")
  end
  local email = source .. "-" .. thread_no .. "-" .. sent .. "@example.org"
  if kind == "json" then
    local body = '{"email":"' .. email .. '","lists":["nyheder"],"language":"da","consent":true}'
    return wrk.format("POST", "/subscribe", {["Content-Type"] = "application/json"}, body)
  end
  if kind == "bare" then
    local body = '{"email":"' .. email .. '","lists":["nyheder"],"language":"da","consent":true}'
    return wrk.format("POST", "/bare", {["Content-Type"] = "application/json"}, body)
  end
  local body = "email=" .. string.gsub(email, "@", "%%40") .. "&lists=nyheder&language=da&consent=on"
  return wrk.format("POST", "/subscribe",
    {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end

-- wrk counts 4xx/5xx answers as errors (errors.status); the form's 303 is a success.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
    "non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.status, e.connect, e.read, e.write, e.timeout))
end
