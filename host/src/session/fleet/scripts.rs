//! The Lua scripts that make each fleet decision one atomic step in Redis.
//! Keys of one session: `{base}:session` (hash: `gen`, sealed `blob`),
//! `:gen` (counter), `:lock` (owner token, expires), `:budget` (sorted set
//! of login attempts by time), `:stop` (refused credentials), `:backoff`
//! (a failure's reason until its wait ends). Changes other instances must
//! learn are published on the events channel in the same step (see
//! [`super::events`]).

/// Before a login. KEYS: session, lock, stop, backoff, budget. ARGV: owner
/// token, lock ttl ms, now ms, logins per hour, rejected generation (0:
/// none), events channel, key base. Answers `{"stop", json}`, `{"session", blob, gen}`, `{"backoff",
/// ms, reason}`, `{"wait"}`, `{"budget", ms}` or `{"login"}` (lock taken,
/// budget slot taken).
pub const ACQUIRE: &str = r#"
local stop = redis.call('GET', KEYS[3])
if stop then return {'stop', stop} end
local gen = redis.call('HGET', KEYS[1], 'gen')
if gen then
  if tonumber(gen) ~= tonumber(ARGV[5]) then
    return {'session', redis.call('HGET', KEYS[1], 'blob'), gen}
  end
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[6], 'drop ' .. gen .. ' ' .. ARGV[7])
end
local wait = redis.call('PTTL', KEYS[4])
if wait > 0 then return {'backoff', tostring(wait), redis.call('GET', KEYS[4])} end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'wait'} end
local now = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - 3600000)
if redis.call('ZCARD', KEYS[5]) >= tonumber(ARGV[4]) then
  local oldest = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
  redis.call('DEL', KEYS[2])
  return {'budget', tostring(tonumber(oldest[2]) + 3600000 - now)}
end
redis.call('ZADD', KEYS[5], now, ARGV[1])
redis.call('PEXPIRE', KEYS[5], 3600000)
return {'login'}
"#;

/// After a successful login. KEYS: session, gen, lock. ARGV: sealed blob,
/// ttl ms, owner token, now ms, events channel, key base. Stores the session under a new generation
/// (never below the clock in ms, so a Redis that lost its data does not
/// hand out a generation an instance still remembers as rejected), frees
/// the lock if still held by the owner; answers the generation.
pub const PUBLISH: &str = r#"
local gen = math.max(tonumber(redis.call('GET', KEYS[2]) or '0') + 1, tonumber(ARGV[4]))
local text = string.format('%d', gen)
redis.call('SET', KEYS[2], text)
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'gen', text, 'blob', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if redis.call('GET', KEYS[3]) == ARGV[3] then redis.call('DEL', KEYS[3]) end
redis.call('PUBLISH', ARGV[5], 'new ' .. text .. ' ' .. ARGV[6])
return gen
"#;

/// After a failed login. KEYS: lock, stop or backoff. ARGV: owner token,
/// value, ttl ms, events channel, key base. Records the failure and frees the lock if still held by
/// the owner.
pub const FAIL: &str = r#"
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('PUBLISH', ARGV[4], 'fail 0 ' .. ARGV[5])
return 1
"#;

/// The org's API usage an answer reported. KEYS: usage. ARGV: used, limit,
/// at (unix ms), events channel, key base. Keeps the newest report (a day
/// at most) and publishes `usage {used} {limit} {at} {base}`; answers 1, or
/// 0 when a newer report is there already.
pub const USAGE: &str = r#"
local at = tonumber(redis.call('HGET', KEYS[1], 'at') or '0')
if tonumber(ARGV[3]) <= at then return 0 end
redis.call('HSET', KEYS[1], 'used', ARGV[1], 'limit', ARGV[2], 'at', ARGV[3])
redis.call('PEXPIRE', KEYS[1], 86400000)
redis.call('PUBLISH', ARGV[4], 'usage ' .. ARGV[1] .. ' ' .. ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[5])
return 1
"#;
