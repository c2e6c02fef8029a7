//! The transport's connections, on real TLS servers on loopback: one HTTP/2
//! connection per host carries a cold stampede and is let go after
//! `pool_idle_timeout` unused (the next request opens a new one); a host
//! that speaks only HTTP/1.1 sends its first request on the connection
//! that learnt the protocol (handed to the keep-alive pool, not opened
//! twice).

use std::time::Duration;

use bytes::Bytes;
use twoway::config::Upstream;
use twoway::transport::{Transport, client_config};
use twoway_tests::fake_login::{Behaviour, FakeLogin};
use twoway_tests::{pki, start_sim};

fn transport(idle: Duration) -> Transport {
    let tls = client_config(None, &[pki().dir.join("root-ca.pem")]).unwrap();
    let settings = Upstream {
        pool_idle_timeout: idle,
        ..Upstream::default()
    };
    Transport::new(tls, &settings)
}

async fn get(transport: &Transport, url: &str) -> u16 {
    let request = http::Request::get(url).body(Bytes::new()).unwrap();
    transport.send(request).await.expect("an answer").status
}

#[tokio::test(flavor = "multi_thread")]
async fn one_http2_connection_carries_a_stampede_and_is_let_go_when_idle() {
    let sim = start_sim().await;
    let url = format!("{}/services/data", sim.endpoints().standard_url());
    let transport = transport(Duration::from_secs(1));
    let calls: Vec<_> = (0..64)
        .map(|_| {
            let (transport, url) = (transport.clone(), url.clone());
            tokio::spawn(async move { get(&transport, &url).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap();
    }
    assert_eq!(transport.handshakes(), 1, "one connection for 64 callers");
    get(&transport, &url).await;
    assert_eq!(transport.handshakes(), 1, "kept while in use");

    tokio::time::sleep(Duration::from_millis(2500)).await;
    get(&transport, &url).await;
    assert_eq!(transport.handshakes(), 2, "let go after 1 s unused");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_http1_host_keeps_the_first_connection() {
    let fake = FakeLogin::start(Behaviour::Answer {
        delay: Duration::ZERO,
        status: 200,
        body: "ok".into(),
    })
    .await;
    let url = format!("{}/", fake.url.replace("127.0.0.1", "localhost"));
    let transport = transport(Duration::from_secs(90));
    assert_eq!(get(&transport, &url).await, 200);
    assert_eq!(
        fake.connections().len(),
        1,
        "the connection that learnt the protocol carried the request"
    );
    assert_eq!(transport.handshakes(), 1);
    // The keep-alive pool serves the host from then on. (Whether a request
    // that follows at once finds the connection back in the pool is
    // hyper-util's race, so the count is not asserted here.)
    for _ in 0..4 {
        assert_eq!(get(&transport, &url).await, 200);
    }
    assert_eq!(fake.requests().len(), 5);
    assert_eq!(transport.handshakes(), fake.connections().len() as u64);
}
