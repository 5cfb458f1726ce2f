-- Removes the instances whose deadline passed, and returns, as triples
-- topic, identity ('' for a vacate), members left, the cluster-level
-- leaves and vacates that makes: entries no live instance still has.
-- KEYS: live zset. ARGV: now ms, key base.
local now, base = tonumber(ARGV[1]), ARGV[2]
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
if #dead == 0 then return {} end
redis.call('ZREM', KEYS[1], unpack(dead))
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
local out = {}
local reported = {}
for _, inst in ipairs(dead) do
  local topics = redis.call('SMEMBERS', base .. inst)
  for _, topic in ipairs(topics) do
    local key = base .. inst .. ':' .. topic
    local ids = redis.call('HKEYS', key)
    redis.call('DEL', key)
    local members = {}
    for _, other in ipairs(live) do
      for _, m in ipairs(redis.call('HKEYS', base .. other .. ':' .. topic)) do
        if m ~= '' then members[m] = true end
      end
    end
    local count = 0
    for _ in pairs(members) do count = count + 1 end
    for _, id in ipairs(ids) do
      local kept = false
      for _, other in ipairs(live) do
        if redis.call('HEXISTS', base .. other .. ':' .. topic, id) == 1 then
          kept = true
          break
        end
      end
      if not kept and not reported[topic .. '\n' .. id] then
        reported[topic .. '\n' .. id] = true
        table.insert(out, topic)
        table.insert(out, id)
        table.insert(out, tostring(count))
      end
    end
  end
  redis.call('DEL', base .. inst)
end
return out
