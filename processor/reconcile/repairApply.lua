-- One atomic step of a repair: rewrites a chunk of a link's values from the recompute, fenced so that it can
-- never overwrite newer work. It applies only while the link's stored offsets are exactly those the recompute
-- went to (a processor that ignored the pause moved them) and the repair still holds the pause.
--
-- KEYS[1] offsets, KEYS[2] the pause flag
-- ARGV[1] the pause token the repair wrote   ARGV[2] JSON {"<topic>:<partition>": "<next offset>", ...}
-- ARGV[3..] operations, four arguments each: op, key, a, b
--   restore key ttlMs payload   (a DUMP of the recomputed key; ttl 0 = none)   del key - -
--   hset key field value        hdel key field -
-- Returns {1, operations applied} or {0, reason, detail}.

local offsets, pause = KEYS[1], KEYS[2]
if redis.call('GET', pause) ~= ARGV[1] then return {0, 'pause', redis.call('GET', pause) or ''} end

local expected = cjson.decode(ARGV[2])
local flat = redis.call('HGETALL', offsets)
local count = 0
for i = 1, #flat, 2 do
  if expected[flat[i]] ~= flat[i + 1] then return {0, 'offsets', flat[i] .. '=' .. flat[i + 1]} end
  count = count + 1
end
for field in pairs(expected) do count = count - 1 end
if count ~= 0 then return {0, 'offsets', 'a partition appeared or went'} end

local applied = 0
for i = 3, #ARGV, 4 do
  local op, key, a, b = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if op == 'restore' then
    redis.call('RESTORE', key, tonumber(a), b, 'REPLACE')
  elseif op == 'del' then
    redis.call('DEL', key)
  elseif op == 'hset' then
    redis.call('HSET', key, a, b)
  elseif op == 'hdel' then
    redis.call('HDEL', key, a)
  else
    return redis.error_reply('unknown repair operation ' .. op)
  end
  applied = applied + 1
end
return {1, applied}
