-- Registers the catalog of a starting processor in its link, atomically with respect to every batch (so the
-- offsets recorded as a new metric's start are exactly those its first batch starts from).
--
-- KEYS[1] metric states (os:metrics), KEYS[2] offsets, KEYS[3] max event times, KEYS[4] meta
-- ARGV[1] JSON [[name, definitionJSON], ...]: the metrics this process computes
-- ARGV[2] fingerprint of that set (common/metricState.ts), stored in meta and checked by every batch
-- Returns {0, name, storedDefinitionJSON} when a metric is stored under another definition (nothing written),
-- else {1, started, paused}: the metrics that start (or resume) computing now, and those now paused, each a
-- comma-separated list of names.

local states, offsets, maxet, meta = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local wanted = cjson.decode(ARGV[1])

-- Field by field: the order cjson writes an object's fields in is not defined.
local function sameDef(a, b)
  for k, v in pairs(a) do if b[k] ~= v then return false end end
  for k, v in pairs(b) do if a[k] ~= v then return false end end
  return true
end

local stored = {}
for _, w in ipairs(wanted) do
  local json = redis.call('HGET', states, w[1])
  if json then
    local s = cjson.decode(json)
    if not sameDef(s.def, cjson.decode(w[2])) then return {0, w[1], cjson.encode(s.def)} end
    stored[w[1]] = s
  end
end

-- The link's position now: a metric that starts here has not seen anything before it. Even a new source's
-- metric, whose records were never read: its records already in Kafka may belong to minutes this link has
-- closed (digested without it), so its past is not whole until a backfill rewrites it.
local flat = redis.call('HGETALL', offsets)
local since = cjson.null
if #flat > 0 then
  local at = {}
  for i = 1, #flat, 2 do at[flat[i]] = tonumber(flat[i + 1]) end
  local newest = 0
  for _, v in ipairs(redis.call('HVALS', maxet)) do newest = math.max(newest, tonumber(v)) end
  since = {eventTime = newest, offsets = at}
end

local started, wantedSet = {}, {}
for _, w in ipairs(wanted) do
  wantedSet[w[1]] = true
  local s = stored[w[1]]
  if not s or s.paused then
    redis.call('HSET', states, w[1], cjson.encode({def = cjson.decode(w[2]), paused = false, since = since}))
    started[#started + 1] = w[1]
  end
end

local paused = {}
local all = redis.call('HGETALL', states)
for i = 1, #all, 2 do
  if not wantedSet[all[i]] then
    local s = cjson.decode(all[i + 1])
    if not s.paused then
      s.paused = true
      redis.call('HSET', states, all[i], cjson.encode(s))
      paused[#paused + 1] = all[i]
    end
  end
end

redis.call('HSET', meta, 'catalog', ARGV[2])
return {1, table.concat(started, ','), table.concat(paused, ',')}
