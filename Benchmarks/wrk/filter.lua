-- A userName eq or externalId eq lookup of a random seeded user (BENCH_ATTRIBUTE: userName | externalId).
dofile(os.getenv("BENCH_WRK") .. "/common.lua")
local attribute = os.getenv("BENCH_ATTRIBUTE") or "userName"
request = function()
  local i = math.random(0, users - 1)
  local value = attribute == "externalId" and ("ext-" .. i) or ("user" .. i .. "%40bench.example.com")
  return wrk.format("GET", prefix .. "/Users?filter=" .. attribute .. "+eq+%22" .. value .. "%22")
end
