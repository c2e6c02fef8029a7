//! Gateway tokens in the fleet store (`[store] kind = "redis"`, a real
//! redis-server): a token issued by one instance is accepted by another;
//! removing the key that obtained it revokes it on every instance; Redis
//! holds no token (nor key, nor session) in clear; a record written or
//! changed without the encryption key refuses its token; each tenant's
//! live tokens are bounded; and Redis down is SERVER_UNAVAILABLE in the
//! client's format, never an acceptance.

use twoway_tests::fleet::SECRETS;
use twoway_tests::gateway::{ACME, TestGateway, server_tls, tenant_with};
use twoway_tests::redis_server::RedisServer;
use twoway_tests::{ACME_ORG, Client, Response, login_envelope, start_sim, xml_text};

/// Two instances serving acme at the front door, sharing `redis`; `extra`
/// goes before the tenant (e.g. a `[front_door]` table).
async fn fleet(sim: &twoway_sim::Sim, redis: &RedisServer, extra: &str) -> Vec<TestGateway> {
    let config = format!(
        "{}{extra}\n{}",
        redis.store_section(""),
        tenant_with(ACME, "front_door = true")
    );
    let tls = server_tls("{pki}/root-ca.pem");
    let mut gateways = Vec::new();
    for _ in 0..2 {
        gateways.push(TestGateway::start_with(sim, &tls, &config, &[]).await);
    }
    gateways
}

fn origin(gw: &TestGateway) -> String {
    format!("https://{}", gw.addr())
}

/// A SOAP login at `gw` as acme with `key`: the answer.
async fn try_login(client: &Client, gw: &TestGateway, key: &str) -> Response {
    let url = format!("{}/services/Soap/u/62.0", origin(gw));
    client.soap(&url, &login_envelope("acme", key)).await
}

/// A SOAP login at `gw` as acme with `key`: the gateway token.
async fn login(client: &Client, gw: &TestGateway, key: &str) -> String {
    let answer = try_login(client, gw, key).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    xml_text(&answer.body, "sessionId").expect("sessionId")
}

/// A SOAP login refused with SERVER_UNAVAILABLE.
#[track_caller]
fn assert_unavailable_fault(answer: &Response) {
    assert_eq!(answer.status, 500, "{}", answer.body);
    let fault = "<faultcode>sf:SERVER_UNAVAILABLE</faultcode>";
    assert!(answer.body.contains(fault), "{}", answer.body);
}

/// A REST query at `gw` with `token`.
async fn query(client: &Client, gw: &TestGateway, token: &str) -> Response {
    let url = format!(
        "{}/services/data/v62.0/query?q=SELECT+Id+FROM+Account",
        origin(gw)
    );
    let answer = client.rest("GET", &url, token, None).await;
    assert!(
        !answer.body.contains(&format!("{ACME_ORG}!")),
        "the real session leaked: {}",
        answer.body
    );
    answer
}

#[track_caller]
fn assert_invalid_session(answer: &Response) {
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert_eq!(
        answer.json(),
        serde_json::json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    );
}

/// The Redis key holding the record of one token (the only one there).
async fn record_key(redis: &RedisServer) -> String {
    let keys: Vec<String> = redis
        .dump()
        .await
        .into_iter()
        .map(|(key, _)| key)
        .filter(|key| key.contains(":tok:"))
        .collect();
    assert_eq!(keys.len(), 1, "one token record: {keys:?}");
    keys[0].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_from_one_instance_works_on_the_other_and_redis_never_holds_it() {
    let redis = RedisServer::start().await;
    let sim = start_sim().await;
    let gws = fleet(&sim, &redis, "").await;
    let client = Client::anonymous();

    // Issued by A (SOAP login), accepted by B; issued by B (OAuth), by A.
    let soap = login(&client, &gws[0], "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d").await;
    let answer = query(&client, &gws[1], &soap).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let oauth = client
        .form(
            &format!("{}/services/oauth2/token", origin(&gws[1])),
            &[
                ("grant_type", "password"),
                ("username", "acme"),
                ("password", "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d"),
            ],
        )
        .await;
    assert_eq!(oauth.status, 200, "{}", oauth.body);
    let oauth = oauth.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(query(&client, &gws[0], &oauth).await.status, 200);

    // Redis holds two records and the tenant's count, and no secret in
    // clear: not the tokens (nor their random part), the key, the session.
    let dump = redis.dump().await;
    let records = dump.iter().filter(|(k, _)| k.contains(":tok:")).count();
    assert_eq!(records, 2, "{dump:?}");
    let count = dump
        .iter()
        .find(|(k, _)| k.ends_with(":toks:acme"))
        .expect("acme's token count");
    assert_eq!(
        count.1.split(' ').count(),
        4,
        "two ids with scores: {count:?}"
    );
    for token in [&soap, &oauth] {
        let random = token.strip_prefix("00DGATEWAYTOKEN!").unwrap();
        for (key, value) in &dump {
            for needle in [random, &random[..16], &random[48..]] {
                assert!(!key.contains(needle) && !value.contains(needle), "{key}");
            }
        }
    }
    for secret in SECRETS.iter().chain([&"GATEWAYTOKEN"]) {
        for (key, value) in &dump {
            assert!(
                !key.contains(secret) && !value.contains(secret),
                "{secret} in {key}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_removed_key_revokes_its_tokens_on_every_instance() {
    let redis = RedisServer::start().await;
    let sim = start_sim().await;
    let gws = fleet(&sim, &redis, "").await;
    let client = Client::anonymous();
    let token = login(&client, &gws[0], "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d").await;
    for gw in &gws {
        assert_eq!(query(&client, gw, &token).await.status, 200);
    }

    for gw in &gws {
        std::fs::write(
            gw.dir.path().join("acme-keys.txt"),
            "acme-key-2-8e1b5d9f3a7c0e4b2d6f1a8c",
        )
        .unwrap();
        let reloaded = gw.reload().await;
        assert_eq!(reloaded.status, 200, "{}", reloaded.body);
    }
    for gw in &gws {
        assert_invalid_session(&query(&client, gw, &token).await);
    }
    // The new key's tokens work fleet-wide.
    let fresh = login(&client, &gws[1], "acme-key-2-8e1b5d9f3a7c0e4b2d6f1a8c").await;
    assert_eq!(query(&client, &gws[0], &fresh).await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn records_written_or_changed_without_the_key_refuse_their_token() {
    let redis = RedisServer::start().await;
    let sim = start_sim().await;
    let gws = fleet(&sim, &redis, "").await;
    let client = Client::anonymous();
    let mut attacker = redis.connect().await;
    let mut set = async |key: &str, value: &str| {
        let _: () = ::redis::cmd("SET")
            .arg(key)
            .arg(value)
            .arg("PX")
            .arg(600_000)
            .query_async(&mut attacker)
            .await
            .expect("SET");
    };

    let first = login(&client, &gws[0], "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d").await;
    let first_key = record_key(&redis).await;
    let first_value = redis
        .dump()
        .await
        .into_iter()
        .find(|(k, _)| *k == first_key)
        .unwrap()
        .1;

    // One character of the sealed record changed: refused on both.
    let (sealed, expiry) = first_value.rsplit_once('|').unwrap();
    let flipped = if sealed.starts_with('A') { "B" } else { "A" };
    set(&first_key, &format!("{flipped}{}|{expiry}", &sealed[1..])).await;
    for gw in &gws {
        assert_invalid_session(&query(&client, gw, &first).await);
    }
    // The expiry moved later: refused.
    let later: u64 = expiry.parse::<u64>().unwrap() + 60_000;
    set(&first_key, &format!("{sealed}|{later}")).await;
    assert_invalid_session(&query(&client, &gws[1], &first).await);
    // Put back as written, it works again: nothing else was refused.
    set(&first_key, &first_value).await;
    assert_eq!(query(&client, &gws[1], &first).await.status, 200);

    // A record moved under another token's name does not open there.
    let second = login(&client, &gws[1], "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d").await;
    assert_eq!(query(&client, &gws[0], &second).await.status, 200);
    let keys: Vec<String> = redis
        .dump()
        .await
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.contains(":tok:") && *k != first_key)
        .collect();
    let second_key = &keys[0];
    set(second_key, &first_value).await;
    assert_invalid_session(&query(&client, &gws[0], &second).await);

    // Not sealed at all, oversized, or not a string: refused, not read.
    set(second_key, r#"{"tenant":"acme","key":[0]}|99999999999999"#).await;
    assert_invalid_session(&query(&client, &gws[0], &second).await);
    set(second_key, &"A".repeat(1 << 20)).await;
    assert_invalid_session(&query(&client, &gws[1], &second).await);
    let _: () = ::redis::cmd("DEL")
        .arg(second_key)
        .query_async(&mut redis.connect().await)
        .await
        .unwrap();
    let _: () = ::redis::cmd("HSET")
        .arg(second_key)
        .arg("f")
        .arg("v")
        .query_async(&mut redis.connect().await)
        .await
        .unwrap();
    assert_invalid_session(&query(&client, &gws[0], &second).await);
    // The untouched token still works.
    assert_eq!(query(&client, &gws[0], &first).await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn each_tenant_holds_at_most_max_tokens_across_the_fleet() {
    let redis = RedisServer::start().await;
    let sim = start_sim().await;
    let gws = fleet(&sim, &redis, "[front_door]\nmax_tokens = 2\n").await;
    let client = Client::anonymous();
    login(&client, &gws[0], "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d").await;
    login(&client, &gws[1], "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d").await;
    let third = try_login(&client, &gws[0], "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d").await;
    assert_unavailable_fault(&third);
    assert!(third.body.contains("max_tokens"), "{}", third.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_down_is_server_unavailable_never_an_acceptance() {
    let mut redis = RedisServer::start().await;
    let sim = start_sim().await;
    let gws = fleet(&sim, &redis, "").await;
    let client = Client::anonymous();
    let token = login(&client, &gws[0], "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d").await;
    assert_eq!(query(&client, &gws[1], &token).await.status, 200);

    redis.kill();
    for gw in &gws {
        let answer = query(&client, gw, &token).await;
        assert_eq!(answer.status, 503, "{}", answer.body);
        assert_eq!(answer.json()[0]["errorCode"], "SERVER_UNAVAILABLE");
        assert!(
            answer.header("retry-after").is_some(),
            "{:?}",
            answer.headers
        );
    }
    assert_unavailable_fault(
        &try_login(&client, &gws[1], "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d").await,
    );
    // An API key presented directly needs no token store.
    assert_eq!(
        query(&client, &gws[0], "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d")
            .await
            .status,
        200
    );

    // Redis back: the token works again.
    redis.restart().await;
    let mut answer = query(&client, &gws[1], &token).await;
    for _ in 0..100 {
        if answer.status != 503 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        answer = query(&client, &gws[1], &token).await;
    }
    // A restarted redis-server without persistence lost the record.
    assert_invalid_session(&answer);
}
