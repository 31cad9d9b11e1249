#!lua
-- The shebang makes this a Redis 7 flagged script: without allow-oom, Redis refuses it before it runs a
-- command when memory is over maxmemory, so no batch is ever applied in part.
-- Applies one batch's effects together with the offsets they reflect, atomically: either the link's Redis
-- holds both or neither, which is what makes a crash at any instant lose and duplicate nothing.
--
-- KEYS[1] offsets, KEYS[2] max event times, KEYS[3] counters, KEYS[4] meta, KEYS[5] the pause flag (names
-- from common/keys.ts).
-- The data keys travel in ARGV: a link is one standalone Redis, and their names come from common/keys.ts too.
-- ARGV[1]: JSON from processor/effect.ts (values as strings, never Lua numbers, to keep integers exact).
-- ARGV[2]: JSON fences [[field, expected], ...]: each "<topic>:<partition>" offset must still be what the
--          batch was planned against ("" = absent). A zombie member or a replayed batch fails the fence.
-- ARGV[3]: the batch's "<topic>:<partition>"    ARGV[4]: its next offset    ARGV[5]: its highest event time
-- ARGV[6]: key TTL in seconds
-- ARGV[7]: fingerprint of the metrics the batch computed (common/metricState.ts); it must still be the one the
--          link's meta names, so a process of another release cannot add to values it computes differently.
-- Returns {1} when applied, {0, field, current} when fenced off ("catalog" as the field for the catalog fence,
-- "paused" while a repair holds the link: the batch is planned again once it is released).

local offsets, maxet, counters, meta = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local e = cjson.decode(ARGV[1])
local fences = cjson.decode(ARGV[2])
local tp, nextOffset, maxEventTime, ttl = ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])

if redis.call('EXISTS', KEYS[5]) == 1 then return {0, 'paused', redis.call('GET', KEYS[5])} end
local catalog = redis.call('HGET', meta, 'catalog') or ''
if catalog ~= ARGV[7] then return {0, 'catalog', catalog} end

for _, f in ipairs(fences) do
  local current = redis.call('HGET', offsets, f[1]) or ''
  if current ~= f[2] then return {0, f[1], current} end
end

local touched = {}
local function touch(key) touched[key] = true end

-- e.zincr and e.hincr: {key, member, by, member, by, ...} per key.
for _, d in ipairs(e.zincr) do
  for i = 2, #d, 2 do redis.call('ZINCRBY', d[1], d[i + 1], d[i]) end
  touch(d[1])
end
for _, d in ipairs(e.hincr) do
  for i = 2, #d, 2 do redis.call('HINCRBY', d[1], d[i], d[i + 1]) end
  touch(d[1])
end
for _, h in ipairs(e.hll) do
  -- h = {hllKey, mirrorType, mirrorKey, mirrorMember, member...}; PFADD in chunks (Lua's unpack limit).
  local changed = 0
  local i = 5
  while i <= #h do
    local last = math.min(i + 999, #h)
    changed = changed + redis.call('PFADD', h[1], unpack(h, i, last))
    i = last + 1
  end
  -- PFADD says 0 when no register moved, so the count is the one mirrored when the key last changed (and it
  -- exists, with its TTL: creating it answers 1): most adds to a large HyperLogLog skip the count and mirror.
  if changed > 0 then
    local n = redis.call('PFCOUNT', h[1])
    if h[2] == 'z' then redis.call('ZADD', h[3], n, h[4]) else redis.call('HSET', h[3], h[4], n) end
    touch(h[1])
    touch(h[3])
  end
end
-- Join state of the batch's source: {key, packed} to set, keys to delete.
for _, s in ipairs(e.stateSet) do redis.call('SET', s[1], s[2], 'EX', ttl) end
for _, key in ipairs(e.stateDeleted) do redis.call('DEL', key) end
for _, c in ipairs(e.counters) do redis.call('HINCRBY', counters, c[1], c[2]) end
for key in pairs(touched) do redis.call('EXPIRE', key, ttl, 'NX') end

if e.firstMinuteTime ~= '' then
  local first = redis.call('HGET', meta, 'firstMinuteTime')
  if not first or tonumber(e.firstMinuteTime) < tonumber(first) then
    redis.call('HSET', meta, 'firstMinuteTime', e.firstMinuteTime)
  end
end
redis.call('HSET', offsets, tp, nextOffset)
if maxEventTime ~= '' then redis.call('HSET', maxet, tp, maxEventTime) end
return {1}
