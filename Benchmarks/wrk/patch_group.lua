-- Entra's group member PATCH: add a random seeded user to a random seeded group, then remove it (value-list form).
dofile(os.getenv("BENCH_WRK") .. "/common.lua")
local n = 0
local last = {}
request = function()
  n = n + 1
  local g = group_id(math.random(0, groups - 1))
  local body
  if n % 2 == 1 then
    last.user = user_id(math.random(0, users - 1))
    last.group = g
    body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"' .. last.user .. '"}]}]}'
  else
    g = last.group
    body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"members","value":[{"value":"' .. last.user .. '"}]}]}'
  end
  return wrk.format("PATCH", prefix .. "/Groups/" .. g, nil, body)
end
