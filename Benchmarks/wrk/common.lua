-- Shared by the scenarios: the bearer token and SCIM content type come from the environment.
local token = os.getenv("BENCH_TOKEN") or ""
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Content-Type"] = "application/scim+json; charset=utf-8"
users = tonumber(os.getenv("BENCH_USERS") or "1000")
groups = tonumber(os.getenv("BENCH_GROUPS") or "10")

prefix = os.getenv("BENCH_PREFIX") or "/scim/v2"
-- The peer assigns its own ids: it passes them in BENCH_IDS (comma-separated); ours are predictable.
local ids = {}
for id in string.gmatch(os.getenv("BENCH_IDS") or "", "[^,]+") do ids[#ids + 1] = id end
if #ids > 0 then users = #ids end

function user_id(i)
  if #ids > 0 then return ids[i + 1] end
  return string.format("00000000-0000-4000-8000-%012d", i)
end
function group_id(i) return string.format("10000000-0000-4000-8000-%012d", i) end

-- Each wrk thread gets its own number, so generated names never collide across threads.
local thread_counter = 0
function setup(thread)
  thread_counter = thread_counter + 1
  thread:set("thread_id", thread_counter)
end

-- One machine-readable line per run, read by Benchmarks/run.sh. Every non-2xx response counts as an error.
function done(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.timeout + e.status
  io.write(string.format("RESULT requests=%d seconds=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors))
end
