-- POST Entra's create body with a unique userName per request.
dofile(os.getenv("BENCH_WRK") .. "/common.lua")
local run = os.getenv("BENCH_RUN") or "0"
local n = 0
request = function()
  n = n + 1
  local name = string.format("new-%s-%d-%d@bench.example.com", run, thread_id or 0, n)
  local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],'
    .. '"externalId":"x-' .. name .. '","userName":"' .. name .. '","active":true,'
    .. '"emails":[{"primary":true,"type":"work","value":"' .. name .. '"}],"meta":{"resourceType":"User"},'
    .. '"name":{"formatted":"New User","familyName":"User","givenName":"New"},"roles":[]}'
  return wrk.format("POST", prefix .. "/Users", nil, body)
end
