-- GET a fixed path (BENCH_PATH): the probe, the ceiling, a list page.
dofile(os.getenv("BENCH_WRK") .. "/common.lua")
local path = os.getenv("BENCH_PATH")
request = function() return wrk.format("GET", path) end
