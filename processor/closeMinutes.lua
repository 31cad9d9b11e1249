-- Closes the minutes that no future event of this link can change any more and writes their digests: one per
-- metric ("<HHMM>|<metric>" -> sha1 of its sorted "field=value" lines, by minuteDigests.lua, prepended), so
-- links are compared metric by metric and a metric that is not complete on every link can be left out of the comparison.
-- A minute is closed once it ends at or before (lowest partition watermark - allowed lateness) over every input
-- partition: planner.ts shows why no non-late contribution can land before that point. Several members may
-- run this at once; it is atomic and only moves forward, so they agree.
--
-- KEYS[1] max event time per partition, KEYS[2] closed-through instant, KEYS[3] meta, KEYS[4] the pause flag
-- (nothing closes while a repair holds the link: it rewrites minutes and their digests together)
-- ARGV[1] allowed lateness (ms)   ARGV[2] number of input partitions expected   ARGV[3] key TTL (s)
-- ARGV[4] JSON [[minuteStartMs, minuteKey, digestKey, HHMM], ...] ascending: the candidates, computed by the
--         caller (it knows the time zone); only those between the current closed point and the new one close.
-- Returns {closedThroughMs, minutesClosed}.

local vals = redis.call('HVALS', KEYS[1])
local closed = tonumber(redis.call('GET', KEYS[2]) or '0')
if redis.call('EXISTS', KEYS[4]) == 1 then return {closed, 0} end
if #vals < tonumber(ARGV[2]) then return {closed, 0} end
local low = math.huge
for _, v in ipairs(vals) do low = math.min(low, tonumber(v)) end
local closeTo = low - tonumber(ARGV[1])
local ttl = tonumber(ARGV[3])

local count = 0
for _, m in ipairs(cjson.decode(ARGV[4])) do
  local start = tonumber(m[1])
  local finish = start + 60000
  if start >= closed and finish <= closeTo then
    for metric, digest in pairs(minuteDigests(m[2])) do
      redis.call('HSET', m[3], m[4] .. '|' .. metric, digest)
    end
    redis.call('EXPIRE', m[3], ttl, 'NX')
    closed = finish
    count = count + 1
  end
end
if count > 0 then redis.call('SET', KEYS[2], closed) end
return {closed, count}
