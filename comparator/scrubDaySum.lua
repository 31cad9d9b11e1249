-- The scrub's day check of a sum or count metric in one dimension: every key's day value must equal the sum of
-- its minutes plus its late contributions (common/keys.ts late), read atomically so no batch falls in between.
-- Read-only; its cost is one HMGET per minute of the day.
--
-- ARGV[1] day ZSET   ARGV[2] late HASH of the day   ARGV[3] minute field prefix "<metric>|<dim>|"
-- ARGV[4] JSON [minuteKey, ...]: every minute of the business day
-- Returns {{key, day value, sum of minutes, late}, ...} for the keys that differ, values as strings.

local flat = redis.call('ZRANGE', ARGV[1], 0, -1, 'WITHSCORES')
if #flat == 0 then return {} end
local prefix = ARGV[3]
local members, fields = {}, {}
for i = 1, #flat, 2 do
  members[#members + 1] = flat[i]
  fields[#fields + 1] = prefix .. flat[i]
end
local sums = {}
for i = 1, #members do sums[i] = 0 end
for _, minuteKey in ipairs(cjson.decode(ARGV[4])) do
  for i, v in ipairs(redis.call('HMGET', minuteKey, unpack(fields))) do
    if v then sums[i] = sums[i] + tonumber(v) end
  end
end
local late = redis.call('HMGET', ARGV[2], unpack(fields))
local differences = {}
for i, member in ipairs(members) do
  local day = tonumber(flat[i * 2])
  local lateValue = tonumber(late[i] or '0')
  if day ~= sums[i] + lateValue then
    differences[#differences + 1] = {member, flat[i * 2], tostring(sums[i]), tostring(lateValue)}
  end
end
return differences
