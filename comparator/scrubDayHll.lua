-- The scrub's day check of a distinct metric in one dimension: the count mirrored in the day ZSET of every key,
-- and the count of its HyperLogLog, read atomically (a batch writes both in one script). Read-only.
--
-- ARGV[1] day ZSET   ARGV[2] prefix of the keys' HyperLogLogs (common/keys.ts dayHll with an empty key)
-- Returns {key, mirrored count, PFCOUNT, ...} for every key of the ZSET, and every HyperLogLog's count, so the
-- caller also checks that no count went down since its previous round.

local flat = redis.call('ZRANGE', ARGV[1], 0, -1, 'WITHSCORES')
local out = {}
for i = 1, #flat, 2 do
  out[#out + 1] = flat[i]
  out[#out + 1] = flat[i + 1]
  out[#out + 1] = redis.call('PFCOUNT', ARGV[2] .. flat[i])
end
return out
