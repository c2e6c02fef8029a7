//! A hostile writer with access to Redis but not the encryption key,
//! against a fleet of three instances on a real redis-server: forged,
//! replayed, untimed, mistyped and oversized values under every key kind,
//! and forged and oversized messages of every event kind. The fleet keeps
//! serving: every call answers 200, no instance drops its session or
//! adopts a usage report for a forged message, an oversized value is never
//! read, an oversized message ends the subscription before it is read, and
//! each round makes at most one login per instance (what the instances
//! would make without Redis).

use std::time::{Duration, Instant, SystemTime};

use ::redis::aio::MultiplexedConnection;
use twoway_sim::Sim;
use twoway_tests::fleet::{KEY, PATH, USER_WORKFLOW, gateway, logins};
use twoway_tests::gateway::{ACME, TestGateway};
use twoway_tests::redis_server::RedisServer;
use twoway_tests::{ACME_ORG, admin_get, admin_post, start_sim};

const INSTANCES: u64 = 3;
/// Bigger than any value or message the fleet writes, by far.
const OVERSIZED: usize = 4 << 20;
/// How long a test polls for something that must happen.
const DEADLINE: Duration = Duration::from_secs(30);

struct Fleet {
    redis: RedisServer,
    sim: Sim,
    gateways: Vec<TestGateway>,
    /// The tenant's key base in Redis, as the attacker finds it.
    base: String,
    attacker: MultiplexedConnection,
}

/// Three instances with one shared session in place.
async fn fleet() -> Fleet {
    let redis = RedisServer::start().await;
    let sim = start_sim().await;
    let tenant = ACME.replace(
        "[tenant.auth]",
        "login_timeout_ms = 1000\napi_budget_per_day = 1000000\n[tenant.auth]",
    );
    let config = format!("{}{tenant}{USER_WORKFLOW}", redis.store_section(""));
    let mut gateways = Vec::new();
    for _ in 0..INSTANCES {
        gateways.push(gateway(&sim, &config).await);
    }
    for gw in &gateways {
        let reply = gw.call("GET", PATH, KEY, "").await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    assert_eq!(logins(&sim).await, 1, "one session for the fleet");
    let base = redis
        .dump()
        .await
        .into_iter()
        .find_map(|(key, _)| key.strip_suffix(":session").map(str::to_string))
        .expect("the fleet's session in Redis");
    let attacker = redis.connect().await;
    Fleet {
        redis,
        sim,
        gateways,
        base,
        attacker,
    }
}

impl Fleet {
    async fn run(&mut self, args: &[&[u8]]) {
        let mut cmd = ::redis::cmd(std::str::from_utf8(args[0]).unwrap());
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        cmd.query_async::<::redis::Value>(&mut self.attacker)
            .await
            .unwrap_or_else(|e| panic!("the attacker's {:?}: {e}", args[0]));
    }

    /// Bytes Redis has sent to its clients so far.
    async fn sent(&mut self) -> u64 {
        let info: String = ::redis::cmd("INFO")
            .arg("stats")
            .query_async(&mut self.attacker)
            .await
            .expect("INFO");
        info.lines()
            .find_map(|l| l.strip_prefix("total_net_output_bytes:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("total_net_output_bytes")
    }

    /// Every instance needs a new session (the API drops it) and is called
    /// twice: all answer 200, with at most one login per instance.
    async fn round(&self, what: &str) {
        let before = logins(&self.sim).await;
        admin_post(&self.sim, "/sessions/expire").await;
        for gw in self.gateways.iter().chain(&self.gateways) {
            let reply = gw.call("GET", PATH, KEY, "").await;
            assert_eq!(reply.status, 200, "{what}: {}", reply.body);
        }
        let made = logins(&self.sim).await - before;
        assert!(
            made <= INSTANCES,
            "{what}: {made} logins, more than one per instance"
        );
    }

    fn key(&self, suffix: &str) -> Vec<u8> {
        format!("{}:{suffix}", self.base).into_bytes()
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_values_under_every_key_make_the_fleet_log_in_as_without_redis() {
    let mut f = fleet().await;
    let far = (now_ms() + 86_400_000).to_string();
    let stop = f.key("stop");
    let lock = f.key("lock");
    let backoff = f.key("backoff");
    let budget = f.key("budget");
    let session = f.key("session");
    let gen_key = f.key("gen");
    let usage = f.key("usage");

    // Logins stopped fleet-wide, with the attacker's text and no TTL, or
    // dressed as a signed value.
    let forged_stop = br#"{"code":"INVALID_LOGIN","message":"forged"}"#.to_vec();
    f.run(&[b"SET", &stop, &forged_stop]).await;
    f.round("a forged stop").await;
    let dressed = [forged_stop.as_slice(), b"|", far.as_bytes(), b"|AAAA"].concat();
    f.run(&[b"SET", &stop, &dressed]).await;
    f.round("a forged stop dressed as signed").await;
    f.run(&[b"DEL", &stop]).await;

    // A lock nobody holds, without a TTL: every login would wait and fail.
    f.run(&[b"SET", &lock, b"forged"]).await;
    f.round("a lock without a TTL").await;
    f.run(&[b"DEL", &lock]).await;

    // A backoff of an hour.
    f.run(&[
        b"SET",
        &backoff,
        br#"{"kind":"unavailable","reason":"forged"}"#,
        b"PX",
        b"3600000",
    ])
    .await;
    f.round("a forged backoff").await;
    f.run(&[b"DEL", &backoff]).await;

    // The login budget spent for a day (60 logins an hour by default).
    for i in 0..60 {
        let member = format!("forged-{i}");
        f.run(&[b"ZADD", &budget, far.as_bytes(), member.as_bytes()])
            .await;
    }
    f.round("a budget spent in the future").await;
    f.run(&[b"DEL", &budget]).await;

    // The session: an old blob replayed under a new generation, a forged
    // one, and a counter that is not a number.
    f.round("a session shared again").await;
    let fields: Vec<Vec<u8>> = ::redis::cmd("HGETALL")
        .arg(&session)
        .query_async(&mut f.attacker)
        .await
        .expect("HGETALL");
    let blob = fields
        .chunks(2)
        .find(|kv| kv[0] == b"blob")
        .map(|kv| kv[1].clone())
        .expect("a sealed blob");
    f.round("a fresh session to replay the old one over").await;
    f.run(&[b"HSET", &session, b"gen", far.as_bytes(), b"blob", &blob])
        .await;
    f.run(&[b"PERSIST", &session]).await;
    f.round("an old session replayed under a new generation")
        .await;
    f.run(&[b"HSET", &session, b"gen", b"7", b"blob", b"forged|1"])
        .await;
    f.round("a forged session").await;
    f.run(&[b"DEL", &session]).await;
    for garbage in [&b"nan"[..], b"1e300", b"-5", b"x"] {
        f.run(&[b"SET", &gen_key, garbage]).await;
        f.round("a generation counter that is not one").await;
    }

    // A usage report from the future, and a key of the wrong type.
    f.run(&[b"HSET", &usage, b"at", far.as_bytes()]).await;
    f.round("a usage report from the future").await;
    f.run(&[b"HSET", &stop, b"a", b"b"]).await;
    f.round("a stop of the wrong type").await;
    f.run(&[b"DEL", &stop]).await;

    // Oversized values are refused in Redis, never read by an instance.
    let huge = vec![b'x'; OVERSIZED];
    for (what, key, field) in [
        ("an oversized stop", &stop, None),
        ("an oversized lock", &lock, None),
        ("an oversized session", &session, Some(&b"blob"[..])),
    ] {
        match field {
            None => f.run(&[b"SET", key, &huge]).await,
            Some(field) => f.run(&[b"HSET", key, b"gen", b"7", field, &huge]).await,
        }
        let sent = f.sent().await;
        f.round(what).await;
        let read = f.sent().await - sent;
        assert!(
            read < (OVERSIZED / 4) as u64,
            "{what}: Redis sent {read} bytes to the instances"
        );
        f.run(&[b"DEL", key]).await;
    }

    // Once the attacker's values are gone, the fleet shares one login again.
    let before = logins(&f.sim).await;
    admin_post(&f.sim, "/sessions/expire").await;
    for gw in f.gateways.iter().chain(&f.gateways) {
        let reply = gw.call("GET", PATH, KEY, "").await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    assert_eq!(logins(&f.sim).await - before, 1, "one login for the fleet");
    drop(f.redis);
}

/// The tenant's entry in a gateway's `/admin/sessions`.
async fn session_state(gw: &TestGateway) -> serde_json::Value {
    gw.admin_get("/admin/sessions").await.json()["sessions"][0].clone()
}

/// The ids of the gateways' event subscriptions (`SUBSCRIBE`, not the
/// test's own `PSUBSCRIBE`).
async fn subscribers(attacker: &mut MultiplexedConnection) -> Vec<String> {
    let list: String = ::redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(attacker)
        .await
        .expect("CLIENT LIST");
    list.lines()
        .filter(|l| l.split(' ').any(|f| f == "sub=1"))
        .filter_map(|l| l.split(' ').find_map(|f| f.strip_prefix("id=")))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_messages_of_every_kind_are_ignored_and_an_oversized_one_is_never_read() {
    let mut f = fleet().await;
    let channel = b"twoway:events".to_vec();
    let generation: String = ::redis::cmd("HGET")
        .arg(f.key("session"))
        .arg("gen")
        .query_async(&mut f.attacker)
        .await
        .expect("the session's generation");
    let far = now_ms() + 86_400_000;
    let base = f.base.clone();
    let forged = [
        format!("new 99999999999999 {base}"),
        format!("drop {generation} {base}"),
        format!("fail 0 {base}"),
        format!("usage 999999999 1000000 {far} {base}"),
        format!("new 99999999999999 {base}|{far}|AAAA"),
        format!("drop {generation} {base}|{far}|{}", "A".repeat(43)),
        format!("usage 999999999 1000000 {far} {base}|{far}|AAAA"),
    ];
    for message in &forged {
        f.run(&[b"PUBLISH", &channel, message.as_bytes()]).await;
    }
    // A genuine message after them (the API usage a call on the first
    // instance reports): once the others show it, they have handled the
    // forged ones too, in order.
    let reply = f.gateways[0].call("GET", PATH, KEY, "").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let used = admin_get(&f.sim, "/counters")
        .await
        .pointer(&format!("/api_usage_by_org/{ACME_ORG}"))
        .and_then(|v| v.as_u64())
        .expect("the org's usage");
    for gw in &f.gateways[1..] {
        gw.wait_for_metric(&format!(
            "twoway_api_requests_used{{tenant=\"acme\"}} {used}"
        ))
        .await;
        let status = session_state(gw).await;
        assert_eq!(
            status["state"], "active",
            "a forged message dropped it: {status}"
        );
    }
    for gw in &f.gateways {
        let reply = gw.call("GET", PATH, KEY, "").await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    assert_eq!(logins(&f.sim).await, 1, "no login for a forged message");

    // An oversized message: each subscription ends before reading it and
    // subscribes again.
    let before = subscribers(&mut f.attacker).await;
    assert_eq!(before.len(), INSTANCES as usize, "{before:?}");
    f.run(&[b"PUBLISH", &channel, &vec![b'x'; 1 << 20]]).await;
    let deadline = Instant::now() + DEADLINE;
    loop {
        let now = subscribers(&mut f.attacker).await;
        if now.len() == before.len() && now.iter().all(|id| !before.contains(id)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the subscriptions read the oversized message: before {before:?}, now {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for gw in &f.gateways {
        let reply = gw.call("GET", PATH, KEY, "").await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    assert_eq!(logins(&f.sim).await, 1);
}
