-- Records one instance's join/leave of an identity on a topic (or, with
-- an empty identity, its occupancy) and tells whether the cluster made
-- the same transition: no other live instance has that entry.
-- KEYS: live zset, the instance's topic set, the instance's topic hash.
-- ARGV: instance, topic, identity, on (1/0), now ms, ttl ms, key base.
local inst, topic, id, on = ARGV[1], ARGV[2], ARGV[3], ARGV[4] == '1'
local now, ttl, base = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
redis.call('ZADD', KEYS[1], now + ttl, inst)
local changed
if on then
  changed = redis.call('HSETNX', KEYS[3], id, ARGV[5]) == 1
  redis.call('SADD', KEYS[2], topic)
else
  changed = redis.call('HDEL', KEYS[3], id) == 1
  if redis.call('HLEN', KEYS[3]) == 0 then
    redis.call('SREM', KEYS[2], topic)
  end
end
redis.call('PEXPIRE', KEYS[2], 2 * ttl)
redis.call('PEXPIRE', KEYS[3], 2 * ttl)
local elsewhere = false
local members = {}
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
for _, other in ipairs(live) do
  local key = base .. other .. ':' .. topic
  if other ~= inst and redis.call('HEXISTS', key, id) == 1 then
    elsewhere = true
  end
  for _, m in ipairs(redis.call('HKEYS', key)) do
    if m ~= '' then members[m] = true end
  end
end
local count = 0
for _ in pairs(members) do count = count + 1 end
if changed and not elsewhere then
  return {1, count}
end
return {0, count}
