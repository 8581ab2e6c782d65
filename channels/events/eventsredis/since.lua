-- The events of a room after an event id (eventsredis.History.Since).
--
-- KEYS[1] the room's stream, KEYS[2] its hash of the Seq each node wrote last.
-- ARGV: node, the Seq of this node to wait for (0: none), the event id after
-- which to start ("": from the oldest), size (entries that count), ttl in ms,
-- limit (0: all), window in ms, most earlier sums.
--
-- Answers {"pending"} when this node's events are not all in the stream yet,
-- {"missing"} when no kept entry has the id, or {"found", more, count, then
-- n, s, i, t, e of each of count events, oldest first, then the SHA-1 (hex)
-- of the entry of the id and of each before it younger than the window, those
-- of other nodes}.
-- Entries older than the TTL or beyond the newest `size` do not count; a
-- second entry of one node and Seq (a publish pipeline sent again) is
-- skipped.
local node, wait_for, after = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local size, ttl, limit = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local window, earlier_max = tonumber(ARGV[7]), tonumber(ARGV[8])

if wait_for > 0 then
  local wrote = tonumber(redis.call('HGET', KEYS[2], node) or '0')
  if wrote < wait_for then
    return {'pending'}
  end
end

local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local oldest = now_ms - ttl
local recent = now_ms - window

local newest_first = {}
local earlier = {}
local seen = {}
local kept = 0
local from_oldest = (after == '')
local found = false
local top = '+'
local done = false
while not done do
  local batch = redis.call('XREVRANGE', KEYS[1], top, '-', 'COUNT', 100)
  if #batch == 0 then
    break
  end
  for _, entry in ipairs(batch) do
    local id = entry[1]
    local ms = tonumber(string.sub(id, 1, string.find(id, '-', 1, true) - 1))
    if ms < oldest or kept >= size or (found and (ms < recent or #earlier >= earlier_max)) then
      done = true
      break
    end
    local fields, ev = entry[2], {}
    for k = 1, #fields, 2 do
      ev[fields[k]] = fields[k + 1]
    end
    local key = (ev.n or '') .. '/' .. (ev.s or '')
    if not seen[key] then
      seen[key] = true
      kept = kept + 1
      if found then
        if ev.n ~= node then
          earlier[#earlier + 1] = redis.sha1hex(ev.e or '')
        end
      elseif not from_oldest and ev.i == after then
        found = true
        if ev.n ~= node then
          earlier[#earlier + 1] = redis.sha1hex(ev.e or '')
        end
      else
        newest_first[#newest_first + 1] = ev
      end
    end
  end
  top = '(' .. batch[#batch][1]
end

if not (found or from_oldest) then
  return {'missing'}
end
local out = {'found', '0', '0'}
local last = 1
if limit > 0 and #newest_first > limit then
  last = #newest_first - limit + 1
  out[2] = '1'
end
out[3] = tostring(#newest_first - last + 1)
for k = #newest_first, last, -1 do
  local ev = newest_first[k]
  out[#out + 1] = ev.n or ''
  out[#out + 1] = ev.s or '0'
  out[#out + 1] = ev.i or ''
  out[#out + 1] = ev.t or ''
  out[#out + 1] = ev.e or ''
end
for _, sum in ipairs(earlier) do
  out[#out + 1] = sum
end
return out
