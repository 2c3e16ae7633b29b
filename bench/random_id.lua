-- wrk script: GET /pokemon/{id} with a uniformly random id in 1..1025 per request.
-- Used by scripts/bench. Each wrk thread has its own Lua state; init() runs once
-- in it, so the generator is seeded once per thread (time plus the address of a
-- fresh table, so that threads started in the same second differ).
local max_id = 1025

function init(args)
  local addr = tonumber(tostring({}):match("0x(%x+)") or "0", 16) or 0
  math.randomseed(os.time() + addr % 1000003)
  -- Discard the first draws: some Lua generators start poorly after seeding.
  for _ = 1, 10 do math.random(max_id) end
end

function request()
  return wrk.format("GET", "/pokemon/" .. math.random(1, max_id))
end
