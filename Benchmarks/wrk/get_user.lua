-- GET a random seeded user by id.
dofile(os.getenv("BENCH_WRK") .. "/common.lua")
request = function() return wrk.format("GET", prefix .. "/Users/" .. user_id(math.random(0, users - 1))) end
