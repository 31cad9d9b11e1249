-- The scrub of closed minutes: re-derives each minute's per-metric digests from the values stored now, with the
-- very code that wrote them when the minute closed (minuteDigests.lua, prepended), and compares with the stored
-- digests. Read-only. A closed minute never changes on a sound link, so any difference is a corruption: a value
-- changed, a field added or deleted, a minute hash deleted or added, or a digest changed.
--
-- ARGV[1] digest HASH of the day   ARGV[2] JSON [[HHMM, minuteKey], ...]: closed minutes of that day
-- ARGV[3] JSON [metric, ...]: distinct metrics, whose minute values are HyperLogLog counts (returned to be checked)
-- ARGV[4] JSON [metric, ...]: every metric the link knows (its os:metrics), whose digests are read by name
-- Returns {{HHMM, metric, stored or '', re-derived or ''}, ...} for the differences, then
--         {{HHMM, field, value}, ...} for the distinct metrics' minute values.

local digestKey = ARGV[1]
local distinct = {}
for _, metric in ipairs(cjson.decode(ARGV[3])) do distinct[metric] = true end
local metrics = cjson.decode(ARGV[4])

local differences = {}
local counts = {}
for _, m in ipairs(cjson.decode(ARGV[2])) do
  local minute = m[1]
  local derived, flat = minuteDigests(m[2])
  for i = 1, #flat, 2 do
    if distinct[string.match(flat[i], '^([^|]+)|')] then counts[#counts + 1] = {minute, flat[i], flat[i + 1]} end
  end
  local stored = {}
  local fields = {}
  for i, metric in ipairs(metrics) do fields[i] = minute .. '|' .. metric end
  for i, digest in ipairs(redis.call('HMGET', digestKey, unpack(fields))) do
    if digest then stored[metrics[i]] = digest end
  end
  for metric, digest in pairs(derived) do
    if stored[metric] ~= digest then differences[#differences + 1] = {minute, metric, stored[metric] or '', digest} end
  end
  for metric, digest in pairs(stored) do
    if not derived[metric] then differences[#differences + 1] = {minute, metric, digest, ''} end
  end
end
return {differences, counts}
