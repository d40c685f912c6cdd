-- Entra's PATCH forms on random seeded users: disable with "False", re-enable, and a name change.
dofile(os.getenv("BENCH_WRK") .. "/common.lua")
local forms = {
  '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}',
  '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"True"}]}',
  '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"name.familyName","value":"Renamed"},{"op":"Replace","path":"name.givenName","value":"Bench"}]}',
}
local n = 0
request = function()
  n = n + 1
  return wrk.format("PATCH", prefix .. "/Users/" .. user_id(math.random(0, users - 1)), nil, forms[(n % 3) + 1])
end
