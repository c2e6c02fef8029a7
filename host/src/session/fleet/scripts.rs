//! The Lua scripts that make each fleet decision one atomic step in Redis.
//! Keys of one session: `{base}:session` (hash: `gen`, sealed `blob`),
//! `:gen` (counter), `:lock` (signed owner token, expires), `:budget`
//! (sorted set of signed login attempts by time), `:stop` (signed refusal),
//! `:backoff` (a signed failure reason until its wait ends), `:usage`
//! (hash: `at`, signed `report`). Changes other instances must learn are
//! published on the events channel in the same step (see
//! [`super::events`]); every message is signed by the instance and passed
//! in whole.
//!
//! The scripts check nothing they cannot: the signatures are checked by
//! the instance that reads a value. What they do bound is what they hand
//! back (`{"oversize"}` instead of a value longer than the given maximum)
//! and the numbers they compute with (a counter or a time that is not a
//! number, or lies a day ahead, counts as absent).

/// Before a login. KEYS: session, lock, stop, backoff, budget, gen. ARGV:
/// signed lock value, lock ttl ms, now ms, logins per hour, rejected
/// generation ("0": none; the session is dropped at it or below it, a
/// generation that is not a number included), events channel, signed
/// `drop` message, signed
/// budget entry, largest value handed back. Answers `{"stop", value}`,
/// `{"session", blob, gen}`, `{"backoff", ms, value}`, `{"wait", lock
/// value}`, `{"budget", entry, score, ...}` (the window's entries, oldest
/// first), `{"oversize"}` or `{"login", gen}` (lock taken, budget slot
/// taken, generation `gen` reserved for the session this login makes).
pub const ACQUIRE: &str = r#"
local max = tonumber(ARGV[9])
local now = tonumber(ARGV[3])
if redis.call('EXISTS', KEYS[3]) == 1 then
  if redis.call('STRLEN', KEYS[3]) > max then return {'oversize'} end
  return {'stop', redis.call('GET', KEYS[3])}
end
if redis.call('HSTRLEN', KEYS[1], 'gen') > 20 or redis.call('HSTRLEN', KEYS[1], 'blob') > max then
  return {'oversize'}
end
local gen = redis.call('HGET', KEYS[1], 'gen')
if gen then
  local rejected = tonumber(ARGV[5])
  if rejected == 0 or (tonumber(gen) or 0) > rejected then
    return {'session', redis.call('HGET', KEYS[1], 'blob') or '', gen}
  end
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[6], ARGV[7])
end
local wait = redis.call('PTTL', KEYS[4])
if wait > 0 then
  if redis.call('STRLEN', KEYS[4]) > max then return {'oversize'} end
  return {'backoff', tostring(wait), redis.call('GET', KEYS[4])}
end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  if redis.call('STRLEN', KEYS[2]) > max then return {'oversize'} end
  return {'wait', redis.call('GET', KEYS[2]) or ''}
end
local budget = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - 3600000)
if redis.call('ZCARD', KEYS[5]) >= budget then
  redis.call('DEL', KEYS[2])
  local entries = redis.call('ZRANGE', KEYS[5], 0, budget - 1, 'WITHSCORES')
  local out = {'budget'}
  for i = 1, #entries do
    if #entries[i] > max then return {'oversize'} end
    out[#out + 1] = entries[i]
  end
  return out
end
redis.call('ZADD', KEYS[5], now, ARGV[8])
redis.call('PEXPIRE', KEYS[5], 3600000)
local held = 0
if redis.call('STRLEN', KEYS[6]) <= 20 then
  held = tonumber(redis.call('GET', KEYS[6]) or '0') or 0
end
if held ~= held or held > now + 86400000 then held = 0 end
local text = string.format('%d', math.max(held + 1, now))
redis.call('SET', KEYS[6], text)
return {'login', text}
"#;

/// After a successful login. KEYS: session, gen, lock. ARGV: sealed blob,
/// ttl ms, signed lock value, the generation ACQUIRE reserved, signed `new`
/// message, events channel. Stores the session under that generation
/// unless a newer one was reserved since (this login's lock had expired and
/// another instance logged in), frees the lock if still held by the owner;
/// answers 1 when stored, else 0.
pub const PUBLISH: &str = r#"
local stored = 0
if redis.call('GET', KEYS[2]) == ARGV[4] then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'gen', ARGV[4], 'blob', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('PUBLISH', ARGV[6], ARGV[5])
  stored = 1
end
if redis.call('GET', KEYS[3]) == ARGV[3] then redis.call('DEL', KEYS[3]) end
return stored
"#;

/// After a failed login. KEYS: lock, stop or backoff. ARGV: signed lock
/// value, signed value, ttl ms, events channel, signed `fail` message.
/// Records the failure and frees the lock if still held by the owner.
pub const FAIL: &str = r#"
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
"#;

/// The org's API usage an answer reported. KEYS: usage. ARGV: at (unix
/// ms), now ms, skew ms, events channel, signed `usage` message. Keeps the
/// newest report (a day at most; a stored time beyond now + skew counts as
/// none) and publishes it; answers 1, or 0 when a newer report is there.
pub const USAGE: &str = r#"
local held = 0
if redis.call('HSTRLEN', KEYS[1], 'at') <= 20 then
  held = tonumber(redis.call('HGET', KEYS[1], 'at') or '0') or 0
end
if held ~= held or held > tonumber(ARGV[2]) + tonumber(ARGV[3]) then held = 0 end
if tonumber(ARGV[1]) <= held then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'at', ARGV[1], 'report', ARGV[5])
redis.call('PEXPIRE', KEYS[1], 86400000)
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
"#;

/// The fleet's session as it is now. KEYS: session. ARGV: largest value
/// handed back. Answers `{}` (none), `{gen, blob}` or `{"oversize"}`.
pub const SESSION: &str = r#"
if redis.call('HSTRLEN', KEYS[1], 'gen') > 20 or redis.call('HSTRLEN', KEYS[1], 'blob') > tonumber(ARGV[1]) then
  return {'oversize'}
end
local gen = redis.call('HGET', KEYS[1], 'gen')
if not gen then return {} end
return {gen, redis.call('HGET', KEYS[1], 'blob') or ''}
"#;
