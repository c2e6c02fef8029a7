//! The transport's connections, on real TLS servers on loopback: one HTTP/2
//! connection per host carries a cold stampede and is let go after
//! `pool_idle_timeout` unused (the next request opens a new one); a host
//! that speaks only HTTP/1.1 sends its first request on the connection
//! that learnt the protocol (handed to the keep-alive pool, not opened
//! twice); a server's graceful GOAWAY lets the streams in flight finish
//! while new requests go to a new connection, each request sent once; a
//! stream the server refuses unprocessed (above a GOAWAY's last stream id,
//! or reset with `REFUSED_STREAM`) is sent once more and processed once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use twoway::config::Upstream;
use twoway::transport::{Transport, client_config, read_whole};
use twoway_tests::fake_login::{Behaviour, FakeLogin, server_tls};
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

/// A loopback listener, its `https://localhost:PORT` and a TLS acceptor
/// with the test PKI's certificate that offers only HTTP/2 (ALPN h2).
async fn h2_listener() -> (tokio::net::TcpListener, String, tokio_rustls::TlsAcceptor) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://localhost:{}",
        listener.local_addr().unwrap().port()
    );
    let mut tls = (*server_tls()).clone();
    tls.alpn_protocols = vec![b"h2".to_vec()];
    (
        listener,
        url,
        tokio_rustls::TlsAcceptor::from(Arc::new(tls)),
    )
}

/// One request as the HTTP/2 server below took it: the connection it came
/// on (0 the first), its `x-call` and its body.
type Taken = (usize, String, Bytes);

/// An HTTP/2 server on loopback (the test PKI's certificate, ALPN h2). Its
/// first connection holds its answers until `release` turns true and, when
/// `shut` is sent a reply channel, shuts down gracefully (h2's: a GOAWAY
/// whose last stream id covers every stream, a round trip later one naming
/// the last stream taken), then answers on that channel once the client
/// has acknowledged a PING sent after the GOAWAY (so it has read the
/// GOAWAY); `first_closed` hears when that connection has ended. Later
/// connections answer at once. Every request taken goes to `taken`.
struct Draining {
    url: String,
    taken: tokio::sync::mpsc::UnboundedReceiver<Taken>,
    shut: Option<tokio::sync::oneshot::Sender<tokio::sync::oneshot::Sender<()>>>,
    release: tokio::sync::watch::Sender<bool>,
    first_closed: tokio::sync::oneshot::Receiver<()>,
    connections: Arc<AtomicUsize>,
}

impl Draining {
    async fn start() -> Self {
        let (listener, url, acceptor) = h2_listener().await;
        let (taken_tx, taken) = tokio::sync::mpsc::unbounded_channel();
        let (shut, shut_rx) = tokio::sync::oneshot::channel();
        let (release, released) = tokio::sync::watch::channel(false);
        let (closed_tx, first_closed) = tokio::sync::oneshot::channel();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        tokio::spawn(async move {
            let (mut shut_rx, mut closed_tx) = (Some(shut_rx), Some(closed_tx));
            while let Ok((tcp, _)) = listener.accept().await {
                let index = counted.fetch_add(1, Ordering::SeqCst);
                let tls = acceptor.accept(tcp).await.expect("TLS handshake");
                let (first, shut_rx, closed_tx) = match index {
                    0 => (true, shut_rx.take(), closed_tx.take()),
                    _ => (false, None, None),
                };
                let (taken, released) = (taken_tx.clone(), released.clone());
                tokio::spawn(async move {
                    serve_h2(tls, index, first, shut_rx, taken, released).await;
                    if let Some(closed) = closed_tx {
                        let _ = closed.send(());
                    }
                });
            }
        });
        Self {
            url,
            taken,
            shut: Some(shut),
            release,
            first_closed,
            connections,
        }
    }
}

/// Serves one connection of [`Draining`] until it ends.
async fn serve_h2(
    tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    index: usize,
    held: bool,
    shut: Option<tokio::sync::oneshot::Receiver<tokio::sync::oneshot::Sender<()>>>,
    taken: tokio::sync::mpsc::UnboundedSender<Taken>,
    released: tokio::sync::watch::Receiver<bool>,
) {
    let mut connection = h2::server::handshake(tls).await.expect("HTTP/2 handshake");
    let mut ping = connection.ping_pong();
    let mut shut = shut;
    // The connection moves frames only while `accept` is polled, so each
    // request is answered by a task of its own.
    loop {
        let ask = async {
            match shut.as_mut() {
                Some(shut) => shut.await.ok(),
                None => std::future::pending().await,
            }
        };
        let next = tokio::select! {
            accepted = connection.accept() => Next::Request(Box::new(accepted)),
            Some(done) = ask => Next::Shut(done),
        };
        match next {
            Next::Request(accepted) => {
                let Some(Ok((request, respond))) = *accepted else {
                    break;
                };
                tokio::spawn(answer(
                    request,
                    respond,
                    index,
                    held,
                    taken.clone(),
                    released.clone(),
                ));
            }
            Next::Shut(done) => {
                shut = None;
                connection.graceful_shutdown();
                let mut ping = ping.take().expect("ping-pong");
                tokio::spawn(async move {
                    ping.ping(h2::Ping::opaque())
                        .await
                        .expect("the client answers the PING");
                    let _ = done.send(());
                });
            }
        }
    }
}

/// A stream the test server accepted, or why it took none.
type Accepted = Option<
    Result<
        (
            http::Request<h2::RecvStream>,
            h2::server::SendResponse<Bytes>,
        ),
        h2::Error,
    >,
>;

/// What [`serve_h2`] does next.
enum Next {
    Request(Box<Accepted>),
    Shut(tokio::sync::oneshot::Sender<()>),
}

/// Reads `request` whole, tells `taken`, waits for `released` if `held`,
/// then answers with the connection's index.
async fn answer(
    request: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    index: usize,
    held: bool,
    taken: tokio::sync::mpsc::UnboundedSender<Taken>,
    mut released: tokio::sync::watch::Receiver<bool>,
) {
    let call = request.headers()["x-call"].to_str().unwrap().to_string();
    let mut body = request.into_body();
    let mut whole = Vec::new();
    while let Some(data) = body.data().await {
        let data = data.unwrap();
        let _ = body.flow_control().release_capacity(data.len());
        whole.extend_from_slice(&data);
    }
    taken.send((index, call, whole.into())).unwrap();
    if held {
        released.wait_for(|go| *go).await.unwrap();
    }
    let head = http::Response::builder().status(200).body(()).unwrap();
    let mut sending = respond.send_response(head, false).unwrap();
    sending.send_data(index.to_string().into(), true).unwrap();
}

/// A POST of `<call n/>`, marked `x-call: n`.
fn call(url: &str, n: usize) -> http::Request<Bytes> {
    http::Request::post(format!("{url}/services/Soap/u/62.0"))
        .header("x-call", n.to_string())
        .body(Bytes::from(format!("<call {n}/>")))
        .unwrap()
}

/// `call`, sent whole (`send`) when `n` is even, else as it comes (`open`):
/// the status and the body of the answer.
async fn sent(transport: &Transport, url: &str, n: usize) -> (u16, Bytes) {
    let request = call(url, n);
    if n.is_multiple_of(2) {
        let reply = transport.send(request).await.expect("an answer");
        return (reply.status, reply.body);
    }
    let opened = transport
        .open(request.map(twoway::transport::whole))
        .await
        .expect("an answer");
    let status = opened.status().as_u16();
    let body = read_whole(opened.into_body(), 1 << 20)
        .await
        .expect("a body");
    (status, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_graceful_goaway_lets_streams_in_flight_finish_and_new_requests_go_to_a_new_connection() {
    let mut server = Draining::start().await;
    let transport = transport(Duration::from_secs(90));
    let url = server.url.clone();
    let spawn = |n: usize| {
        let (transport, url) = (transport.clone(), url.clone());
        tokio::spawn(async move { sent(&transport, &url, n).await })
    };
    let run = async {
        // Four requests (two whole, two streamed) in flight on the first
        // connection, their answers held.
        let in_flight: Vec<_> = (0..4).map(spawn).collect();
        let mut taken = Vec::new();
        while taken.len() < 4 {
            taken.push(server.taken.recv().await.unwrap());
        }

        // The server shuts that connection down gracefully; the client
        // has read its GOAWAY when this returns.
        let (done, shut_down) = tokio::sync::oneshot::channel();
        server.shut.take().unwrap().send(done).unwrap();
        shut_down.await.unwrap();

        // Requests made now go to a new connection, while the first one's
        // streams are still waiting.
        let new: Vec<_> = (4..8).map(spawn).collect();
        for (n, call) in (4..).zip(new) {
            let (status, body) = call.await.unwrap();
            assert_eq!((status, &body[..]), (200, &b"1"[..]), "call {n}");
        }
        assert!(
            in_flight.iter().all(|call| !call.is_finished()),
            "the held answers are not in yet"
        );

        // The first connection's streams finish, and then it closes.
        server.release.send(true).unwrap();
        for (n, call) in in_flight.into_iter().enumerate() {
            let (status, body) = call.await.unwrap();
            assert_eq!((status, &body[..]), (200, &b"0"[..]), "call {n}");
        }
        (&mut server.first_closed).await.unwrap();
        while let Ok(one) = server.taken.try_recv() {
            taken.push(one);
        }
        taken
    };
    let mut taken = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the exchange hung");

    // Each request went once, on the connection it should have.
    taken.sort_by_key(|(_, call, _)| call.parse::<usize>().unwrap());
    let expected: Vec<Taken> = (0..8)
        .map(|n| (n / 4, n.to_string(), format!("<call {n}/>").into()))
        .collect();
    assert_eq!(taken, expected);
    assert_eq!(server.connections.load(Ordering::SeqCst), 2);
    assert_eq!(transport.handshakes(), 2);
}

/// How [`Refusing`] refuses streams on its first connection, without
/// processing them.
#[derive(Clone, Copy)]
enum Refuse {
    /// Once this many streams are in, a GOAWAY whose last stream id is the
    /// lower half's highest: the upper half is not processed.
    GoAwayBelow(usize),
    /// The first try of each of these calls is reset with `REFUSED_STREAM`.
    Streams(&'static [&'static str]),
}

/// An HTTP/2 server on loopback (the test PKI's certificate, ALPN h2)
/// whose first connection refuses streams as `Refuse` says; every stream
/// it does not refuse is read whole, told to `taken` and answered with its
/// connection's index; `refused` counts the refusals.
struct Refusing {
    url: String,
    taken: tokio::sync::mpsc::UnboundedReceiver<Taken>,
    refused: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
}

impl Refusing {
    async fn start(refuse: Refuse) -> Self {
        let (listener, url, acceptor) = h2_listener().await;
        let (taken_tx, taken) = tokio::sync::mpsc::unbounded_channel();
        let refused = Arc::new(AtomicUsize::new(0));
        let connections = Arc::new(AtomicUsize::new(0));
        let (counted, refusals) = (connections.clone(), refused.clone());
        tokio::spawn(async move {
            let tried = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
            while let Ok((tcp, _)) = listener.accept().await {
                let index = counted.fetch_add(1, Ordering::SeqCst);
                let tls = acceptor.accept(tcp).await.expect("TLS handshake");
                let refuse = (index == 0).then_some(refuse);
                let (taken, refusals, tried) = (taken_tx.clone(), refusals.clone(), tried.clone());
                tokio::spawn(serve_refusing(tls, index, refuse, taken, refusals, tried));
            }
        });
        Self {
            url,
            taken,
            refused,
            connections,
        }
    }
}

/// Serves one connection of [`Refusing`] until it ends.
async fn serve_refusing(
    tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    index: usize,
    refuse: Option<Refuse>,
    taken: tokio::sync::mpsc::UnboundedSender<Taken>,
    refused: Arc<AtomicUsize>,
    tried: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
) {
    let frames = Arc::new(std::sync::Mutex::new(Vec::new()));
    let io = Injecting {
        inner: tls,
        frames: frames.clone(),
        at_frame_boundary: true,
    };
    let mut connection = h2::server::handshake(io).await.expect("HTTP/2 handshake");
    let mut ping = connection.ping_pong();
    let (go, released) = tokio::sync::watch::channel(true);
    let mut waiting = Vec::new();
    // The connection moves frames only while `accept` is polled, so each
    // request is answered by a task of its own.
    let answered = move |request, respond| {
        tokio::spawn(answer(
            request,
            respond,
            index,
            false,
            taken.clone(),
            released.clone(),
        ))
    };
    while let Some(Ok((request, mut respond))) = connection.accept().await {
        match refuse {
            None => drop(answered(request, respond)),
            Some(Refuse::Streams(calls)) => {
                let call = request.headers()["x-call"].to_str().unwrap().to_string();
                if calls.contains(&call.as_str()) && tried.lock().unwrap().insert(call) {
                    refused.fetch_add(1, Ordering::SeqCst);
                    respond.send_reset(h2::Reason::REFUSED_STREAM);
                } else {
                    drop(answered(request, respond));
                }
            }
            Some(Refuse::GoAwayBelow(n)) => {
                waiting.push((respond.stream_id().as_u32(), request, respond));
                if waiting.len() < n {
                    continue;
                }
                waiting.sort_by_key(|(id, ..)| *id);
                let last = waiting[n / 2 - 1].0;
                // GOAWAY (type 7) on stream 0: the last stream id, NO_ERROR.
                let mut frame = vec![0, 0, 8, 7, 0, 0, 0, 0, 0];
                frame.extend_from_slice(&last.to_be_bytes());
                frame.extend_from_slice(&[0, 0, 0, 0]);
                frames.lock().unwrap().extend_from_slice(&frame);
                // The GOAWAY goes before the PING's frame: the PING's
                // answer says the client has read it.
                let mut ping = ping.take().expect("ping-pong");
                let waiting = std::mem::take(&mut waiting);
                let (refused, answered) = (refused.clone(), answered.clone());
                tokio::spawn(async move {
                    ping.ping(h2::Ping::opaque())
                        .await
                        .expect("the client answers the PING");
                    for (id, request, respond) in waiting {
                        if id <= last {
                            answered(request, respond);
                        } else {
                            refused.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                });
            }
        }
    }
    drop(go);
}

/// An HTTP/2 server's I/O that writes `frames` (whole frames the server's
/// h2 does not know of) when it next writes, at a frame boundary: h2 flushes
/// only once every frame it has written is whole.
struct Injecting<T> {
    inner: T,
    frames: Arc<std::sync::Mutex<Vec<u8>>>,
    at_frame_boundary: bool,
}

impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Injecting<T> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Injecting<T> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = &mut *self;
        if this.at_frame_boundary {
            let mut frames = this.frames.lock().unwrap();
            while !frames.is_empty() {
                let n =
                    std::task::ready!(std::pin::Pin::new(&mut this.inner).poll_write(cx, &frames))?;
                frames.drain(..n);
            }
        }
        let n = std::task::ready!(std::pin::Pin::new(&mut this.inner).poll_write(cx, buf))?;
        this.at_frame_boundary &= n == 0;
        std::task::Poll::Ready(Ok(n))
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::ready!(std::pin::Pin::new(&mut self.inner).poll_flush(cx))?;
        self.at_frame_boundary = true;
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Sends calls `0..n` at once (even ones whole, odd ones as they come; all
/// held whole, so each can go again) and waits for every answer; `run` is
/// bounded by a timeout that fails the test. Answers each call's status
/// and body, by call.
async fn calls_at_once(server: &Refusing, transport: &Transport, n: usize) -> Vec<(u16, Bytes)> {
    let calls: Vec<_> = (0..n)
        .map(|i| {
            let (transport, url) = (transport.clone(), server.url.clone());
            tokio::spawn(async move { sent(&transport, &url, i).await })
        })
        .collect();
    let run = async {
        let mut answers = Vec::new();
        for call in calls {
            answers.push(call.await.unwrap());
        }
        answers
    };
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the exchange hung")
}

/// Each call went once, on the connection that answered it.
fn taken_once(server: &mut Refusing, answers: &[(u16, Bytes)]) -> Vec<usize> {
    let mut taken = Vec::new();
    while let Ok(one) = server.taken.try_recv() {
        taken.push(one);
    }
    taken.sort_by_key(|(_, call, _)| call.parse::<usize>().unwrap());
    let calls: Vec<String> = taken.iter().map(|(_, call, _)| call.clone()).collect();
    let expected: Vec<String> = (0..answers.len()).map(|n| n.to_string()).collect();
    assert_eq!(calls, expected, "each call was processed once");
    for ((index, call, body), (status, answer)) in taken.iter().zip(answers) {
        assert_eq!(body, &Bytes::from(format!("<call {call}/>")), "call {call}");
        assert_eq!(
            (*status, &answer[..]),
            (200, index.to_string().as_bytes()),
            "call {call}"
        );
    }
    taken.iter().map(|(index, ..)| *index).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn streams_above_a_goaway_are_sent_once_more_on_a_new_connection() {
    let mut server = Refusing::start(Refuse::GoAwayBelow(4)).await;
    let transport = transport(Duration::from_secs(90));
    let answers = calls_at_once(&server, &transport, 4).await;
    let mut where_processed = taken_once(&mut server, &answers);
    where_processed.sort();
    assert_eq!(
        where_processed,
        [0, 0, 1, 1],
        "the two streams below the GOAWAY's last stream id processed on the first connection, the two above it on the next"
    );
    assert_eq!(server.refused.load(Ordering::SeqCst), 2);
    assert_eq!(server.connections.load(Ordering::SeqCst), 2);
    assert_eq!(transport.handshakes(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_refused_unprocessed_is_sent_once_more() {
    // Call 1 is sent as it comes (a whole body, boxed), call 2 whole.
    let mut server = Refusing::start(Refuse::Streams(&["1", "2"])).await;
    let transport = transport(Duration::from_secs(90));
    let answers = calls_at_once(&server, &transport, 4).await;
    let where_processed = taken_once(&mut server, &answers);
    assert_eq!(
        where_processed,
        [0, 0, 0, 0],
        "the connection stayed the host's"
    );
    assert_eq!(server.refused.load(Ordering::SeqCst), 2);
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
    assert_eq!(transport.handshakes(), 1);
}
