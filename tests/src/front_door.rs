//! The front door for tests: a gateway whose tenant acme opts in (served
//! here or by a `twoway serve` process), a gateway token from a SOAP login
//! as tenant acme, and Bulk data made and read as it streams, never held.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame};
use twoway_sim::Sim;

use crate::gateway::{ACME, TestGateway, server_tls, tenant_with};
use crate::{Client, login_envelope, xml_text};

/// Tenant acme with `front_door = true` and `tenant_extra` (keys or tables
/// after it, e.g. a `[tenant.policy]`).
pub fn acme(tenant_extra: &str) -> String {
    format!("{}\n{tenant_extra}", tenant_with(ACME, "front_door = true"))
}

/// A gateway in this process over TLS (`server_extra` added to `[server]`,
/// then any tables), serving [`acme`]`(tenant_extra)`; and its origin.
pub async fn start(
    sim: &Sim,
    server_extra: &str,
    tenant_extra: &str,
    plugins: &[(&str, &str)],
) -> (TestGateway, String) {
    let server = format!("{server_extra}\n{}", server_tls("{pki}/root-ca.pem"));
    let gw = TestGateway::start_with(sim, &server, &acme(tenant_extra), plugins).await;
    let origin = format!("https://{}", gw.addr());
    (gw, origin)
}

/// A gateway token for acme (SOAP login with its first key).
pub async fn token(client: &Client, origin: &str) -> String {
    let login = client
        .soap(
            &format!("{origin}/services/Soap/u/62.0"),
            &login_envelope("acme", twoway_testkit::tenants::ACME_API_KEY),
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.body);
    xml_text(&login.body, "sessionId").expect("sessionId")
}

/// A Bulk 2.0 CSV of Accounts made as it is sent: a header, then `rows`
/// rows `Stream {n},{description}` with a description of `width` bytes.
pub struct CsvRows {
    next: usize,
    rows: usize,
    description: Bytes,
}

/// Rows per frame.
const ROWS_PER_FRAME: usize = 8;

impl CsvRows {
    pub fn new(rows: usize, width: usize) -> Self {
        Self {
            next: 0,
            rows,
            description: Bytes::from("d".repeat(width)),
        }
    }

    /// Every byte it will send.
    pub fn len(&self) -> u64 {
        let header = "Name,Description\n".len() as u64;
        let rows: u64 = (0..self.rows)
            .map(|n| (format!("Stream {n},").len() + self.description.len() + 1) as u64)
            .sum();
        header + rows
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

impl Body for CsvRows {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.next >= this.rows {
            return Poll::Ready(None);
        }
        let mut chunk = Vec::with_capacity(ROWS_PER_FRAME * (this.description.len() + 16));
        if this.next == 0 {
            chunk.extend_from_slice(b"Name,Description\n");
        }
        let end = (this.next + ROWS_PER_FRAME).min(this.rows);
        for n in this.next..end {
            chunk.extend_from_slice(format!("Stream {n},").as_bytes());
            chunk.extend_from_slice(&this.description);
            chunk.push(b'\n');
        }
        this.next = end;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
    }
}

/// Reads `body` to its end a frame at a time: its bytes and lines.
pub async fn count(mut body: hyper::body::Incoming) -> (u64, u64) {
    let (mut bytes, mut lines) = (0u64, 0u64);
    while let Some(frame) = body.frame().await {
        let frame = frame.expect("the answer's body arrives whole");
        if let Some(data) = frame.data_ref() {
            bytes += data.len() as u64;
            lines += data.iter().filter(|b| **b == b'\n').count() as u64;
        }
    }
    (bytes, lines)
}
