"""The generic cell rate algorithm (GCRA) as a Lua function for Redis scripts.

Kept apart from the web layer because two scripts embed it: the rate limiter's own
(`bridge.web.ratelimit`) and the trigger intake's, which limits in the same round trip as it
accepts (`bridge.triggers.intake`).
"""

PERIOD_MS = 60_000  # limits are per minute

# gcra(key, limit, now, period) -> {allowed, remaining, reset_ms, retry_ms}; now_ms() -> ms.
GCRA_LUA = """
local function gcra(key, limit, now, period)
  local interval = period / limit
  local tat = tonumber(redis.call('GET', key))
  if tat == nil or tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - period
  if allow_at > now then
    return {0, 0, math.ceil(tat - now), math.ceil(allow_at - now)}
  end
  redis.call('SET', key, string.format('%.3f', new_tat), 'PX', math.ceil(new_tat - now))
  return {1, math.floor((period - (new_tat - now)) / interval), math.ceil(new_tat - now), 0}
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""
