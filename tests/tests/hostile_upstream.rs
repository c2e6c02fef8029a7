//! Hostile answers from the API side, on a real TLS server on loopback: an
//! answer whose `Content-Length` is over `[upstream].max_response_kb` is
//! refused on its head, not read until the cap or the response timeout.

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use twoway::config::Upstream;
use twoway::transport::{Transport, TransportError, client_config};
use twoway_tests::fake_login::server_tls;
use twoway_tests::pki;

/// A TLS server that reads a request head, announces `length` bytes, sends
/// three of them and then holds the connection open.
async fn announcing(length: u64) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://localhost:{}/",
        listener.local_addr().unwrap().port()
    );
    let acceptor = tokio_rustls::TlsAcceptor::from(server_tls());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(n) if n > 0 => head.extend_from_slice(&buf[..n]),
                        _ => return,
                    }
                }
                let answer = format!("HTTP/1.1 200 OK\r\ncontent-length: {length}\r\n\r\nabc");
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.flush().await;
                tokio::time::sleep(Duration::from_secs(120)).await;
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_announcing_more_than_the_cap_is_refused_on_its_head() {
    let url = announcing(1_000_000_000).await;
    let tls = client_config(None, &[pki().dir.join("root-ca.pem")]).unwrap();
    let settings = Upstream {
        max_response_bytes: 1024 * 1024,
        // Without the check on the head this would be the error.
        response_timeout: Duration::from_secs(20),
        ..Upstream::default()
    };
    let transport = Transport::new(tls, &settings);
    let request = http::Request::get(url.as_str()).body(Bytes::new()).unwrap();
    let e = transport.send(request).await.unwrap_err();
    assert!(
        matches!(e, TransportError::TooLarge { limit: 1048576 }),
        "{e}"
    );
    assert!(e.to_string().contains("max_response_kb"), "{e}");
}
