-- The digests of one minute hash, one per metric: sha1 of that metric's sorted "field=value" lines. Prepended
-- to closeMinutes.lua, which writes them when a minute closes, and to the comparator's scrubMinutes.lua, which
-- re-derives them from the values stored later on and compares: the same code, so they agree on a sound link.
-- Returns a table metric -> digest, and the minute's HGETALL reply.
local function minuteDigests(minuteKey)
  local flat = redis.call('HGETALL', minuteKey)
  local byMetric = {}
  for i = 1, #flat, 2 do
    local metric = string.match(flat[i], '^([^|]+)|')
    local lines = byMetric[metric]
    if not lines then
      lines = {}
      byMetric[metric] = lines
    end
    lines[#lines + 1] = flat[i] .. '=' .. flat[i + 1]
  end
  local digests = {}
  for metric, lines in pairs(byMetric) do
    table.sort(lines)
    digests[metric] = redis.sha1hex(table.concat(lines, '\n'))
  end
  return digests, flat
end

