//! One request on an HTTP/2 connection, driven by the request's own task
//! (the `h2` crate under hyper, without hyper's client dispatch): the head
//! made legal for HTTP/2, the body sent whole or piped as it comes (the
//! pipe ends with the exchange: a caller that hangs up resets the stream),
//! the answer's body read with its flow-control window given back; a
//! stream the server refused without processing it (RFC 9113 §8.7) gives
//! its request back, to go once more, when its body was held whole.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use h2::client::SendRequest;
use http::header::{CONNECTION, CONTENT_LENGTH, HeaderName, TE};
use http_body_util::BodyExt;
use hyper::body::{Body as _, Frame, SizeHint};
use tokio_util::task::AbortOnDropHandle;

use super::{Body, BoxError, TransportError};

/// A request's body: whole (a whole exchange) or as it comes (an open one).
pub enum Outgoing {
    Whole(Bytes),
    Streamed(Body),
}

impl Outgoing {
    /// As a [`Body`], for hyper's HTTP/1.1 pool.
    pub fn into_body(self) -> Body {
        match self {
            Self::Whole(bytes) => super::whole(bytes),
            Self::Streamed(body) => body,
        }
    }
}

/// An answer's body as it comes: an HTTP/2 stream, or hyper's (HTTP/1.1).
pub enum Answer {
    H2 {
        stream: h2::RecvStream,
        /// The bytes its content-length announces and not yet read.
        left: Option<u64>,
        /// The task still piping the request's body, if any: it ends with
        /// the answer (a caller that hangs up stops its upload too).
        _pipe: Option<AbortOnDropHandle<()>>,
    },
    Hyper(hyper::body::Incoming),
}

impl hyper::body::Body for Answer {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            Self::Hyper(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
            Self::H2 { stream, left, .. } => match ready!(stream.poll_data(cx)) {
                Some(Ok(data)) => {
                    // The window is given back as the data is taken, so a
                    // slow reader holds the server back, not the gateway's memory.
                    let _ = stream.flow_control().release_capacity(data.len());
                    if let Some(left) = left {
                        *left = left.saturating_sub(data.len() as u64);
                    }
                    Poll::Ready(Some(Ok(Frame::data(data))))
                }
                Some(Err(e)) => Poll::Ready(Some(Err(e.into()))),
                None => match ready!(stream.poll_trailers(cx)) {
                    Ok(Some(trailers)) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
                    Ok(None) => Poll::Ready(None),
                    Err(e) => Poll::Ready(Some(Err(e.into()))),
                },
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Hyper(body) => body.is_end_stream(),
            Self::H2 { stream, .. } => stream.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Hyper(body) => body.size_hint(),
            Self::H2 {
                left: Some(left), ..
            } => SizeHint::with_exact(*left),
            Self::H2 { .. } => SizeHint::default(),
        }
    }
}

/// How one try on a connection ended.
pub enum Tried {
    Answer(http::Response<Answer>),
    /// The connection had closed (or read a GOAWAY) before it took the
    /// request, which is given back to be sent on another.
    Unsent(http::Request<Outgoing>, TransportError),
    /// The server refused the stream without processing it, so the
    /// request may go once more, even a POST (RFC 9113 §8.7): it is given
    /// back (`again`) when it can go (its body was held whole and this was
    /// its first try), else `error` says why it cannot.
    Refused {
        why: Refusal,
        again: Option<http::Request<Outgoing>>,
        error: TransportError,
    },
    Failed(TransportError),
}

/// How a server refused a stream it had not processed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A GOAWAY whose last stream id is below the stream's: the connection
    /// takes no new stream.
    GoingAway,
    /// `RST_STREAM` with `REFUSED_STREAM`: this stream only.
    Stream,
}

impl Refusal {
    /// How `e`, a stream's error before its answer's head, refused the
    /// stream unprocessed, if it did. h2 fails a stream with the server's
    /// GOAWAY only when the GOAWAY's last stream id is below it; a stream
    /// the GOAWAY covers ends with its answer, or with an I/O error.
    fn of(e: &h2::Error) -> Option<Self> {
        if !e.is_remote() {
            None
        } else if e.is_go_away() {
            Some(Self::GoingAway)
        } else if e.reason() == Some(h2::Reason::REFUSED_STREAM) {
            Some(Self::Stream)
        } else {
            None
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::GoingAway => "a GOAWAY whose last stream id is below its stream",
            Self::Stream => "REFUSED_STREAM",
        })
    }
}

/// A request's body as it goes: held whole (it can go again), or as it
/// comes, with its first frame if that was already taken.
enum Going {
    Whole(Bytes),
    Streamed {
        first: Option<Frame<Bytes>>,
        rest: Body,
    },
}

impl Going {
    fn is_empty(&self) -> bool {
        matches!(self, Self::Whole(bytes) if bytes.is_empty())
    }

    fn exact_len(&self) -> Option<u64> {
        match self {
            Self::Whole(bytes) => Some(bytes.len() as u64),
            Self::Streamed { first, rest } => {
                let first = match first.as_ref().map(Frame::data_ref) {
                    None => 0,
                    Some(Some(data)) => data.len() as u64,
                    Some(None) => return None,
                };
                rest.size_hint().exact().map(|rest| rest + first)
            }
        }
    }
}

/// `body` as it goes: held whole when it is all there now (a whole body
/// boxed, or a caller's body read with its head: its first frame is its
/// last), so that it can go again; else as it comes, its first frame taken
/// if it was there.
async fn settle(body: Outgoing) -> Result<Going, TransportError> {
    let mut body = match body {
        Outgoing::Whole(bytes) => return Ok(Going::Whole(bytes)),
        Outgoing::Streamed(body) if body.is_end_stream() => return Ok(Going::Whole(Bytes::new())),
        Outgoing::Streamed(body) => body,
    };
    let first = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut body).poll_frame(cx))).await;
    Ok(match first {
        Poll::Pending => Going::Streamed {
            first: None,
            rest: body,
        },
        Poll::Ready(None) => Going::Whole(Bytes::new()),
        Poll::Ready(Some(Err(e))) => {
            return Err(TransportError::Http(format!(
                "the request's body failed: {e}"
            )));
        }
        Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
            Ok(data) if body.is_end_stream() => Going::Whole(data),
            Ok(data) => Going::Streamed {
                first: Some(Frame::data(data)),
                rest: body,
            },
            Err(frame) => Going::Streamed {
                first: Some(frame),
                rest: body,
            },
        },
    })
}

/// Sends `request` on the connection `sender` belongs to and waits for the
/// answer's head, all on the caller's task: the connection's own task only
/// moves frames. With `resend` (its first try), a request whose body is
/// held whole keeps its head (a copy of the header map) until the answer's
/// head is in, to be given back if the server refuses the stream.
pub async fn send(
    sender: SendRequest<Bytes>,
    request: http::Request<Outgoing>,
    resend: bool,
) -> Tried {
    let mut sender = match sender.ready().await {
        Ok(sender) => sender,
        Err(e) => return Tried::Unsent(request, failed(e)),
    };
    let (mut parts, body) = request.into_parts();
    let body = match settle(body).await {
        Ok(body) => body,
        Err(e) => return Tried::Failed(e),
    };
    strip_connection_headers(&mut parts.headers);
    if let Some(len) = body.exact_len()
        && (len != 0 || has_payload_semantics(&parts.method))
        && !parts.headers.contains_key(CONTENT_LENGTH)
    {
        parts.headers.insert(CONTENT_LENGTH, len.into());
    }
    let end = body.is_empty();
    let (head, kept) = match &body {
        Going::Whole(bytes) if resend => (copy(&parts), Some((parts, bytes.clone()))),
        _ => (http::Request::from_parts(parts, ()), None),
    };
    let again = |kept: Option<(http::request::Parts, Bytes)>| {
        kept.map(|(parts, bytes)| http::Request::from_parts(parts, Outgoing::Whole(bytes)))
    };
    let (response, mut sending) = match sender.send_request(head, end) {
        Ok(sent) => sent,
        // Nothing went: the connection stopped taking streams after `ready`.
        Err(e) => {
            return match again(kept) {
                Some(request) => Tried::Unsent(request, failed(e)),
                None => Tried::Failed(failed(e)),
            };
        }
    };
    let mut piping = None;
    match body {
        // Buffered by h2 until the window lets it go.
        Going::Whole(bytes) => {
            if !end && let Err(e) = sending.send_data(bytes, true) {
                return Tried::Failed(failed(e));
            }
        }
        Going::Streamed { first, rest } => {
            let mut pipe = Box::pin(pipe(first, rest, sending));
            // A body that is all there goes now; one still coming goes
            // on in a task of its own, while the answer is awaited and
            // read, and no longer (dropped with this future or the answer).
            let done = std::future::poll_fn(|cx| Poll::Ready(pipe.as_mut().poll(cx).is_ready()));
            if !done.await {
                piping = Some(AbortOnDropHandle::new(tokio::spawn(pipe)));
            }
        }
    }
    match response.await {
        Ok(answer) => {
            let left = content_length(answer.headers());
            Tried::Answer(answer.map(|stream| Answer::H2 {
                stream,
                left,
                _pipe: piping,
            }))
        }
        Err(e) => match Refusal::of(&e) {
            None => Tried::Failed(failed(e)),
            Some(why) => {
                let not_again = match (resend, &kept) {
                    (_, Some(_)) => "",
                    (false, None) => ", and it had already been sent once more",
                    (true, None) => {
                        ": its body was streamed, not held whole, so it cannot go again"
                    }
                };
                Tried::Refused {
                    why,
                    again: again(kept),
                    error: TransportError::Http(format!(
                        "the server refused the request without processing it ({why}){not_again}"
                    )),
                }
            }
        },
    }
}

/// `parts` as the head h2 sends (h2 sends no extensions but the extended
/// CONNECT's protocol, which the gateway does not use).
fn copy(parts: &http::request::Parts) -> http::Request<()> {
    let mut head = http::Request::new(());
    *head.method_mut() = parts.method.clone();
    *head.uri_mut() = parts.uri.clone();
    *head.version_mut() = parts.version;
    *head.headers_mut() = parts.headers.clone();
    head
}

/// `body` onto `sending` as it comes (after `first`, if its first frame
/// was already taken), a frame at a time, each frame after the first sent
/// once the stream has some window (h2 holds what the window does not yet
/// let go); a body that fails resets the stream.
///
/// The first frame is taken without waiting for window: a new stream has
/// none until the connection's task has opened it, so a body that is all
/// there goes at once, with the head, in the connection's next write, as a
/// whole body does, rather than in a task of its own and a write of its
/// own after the stream opened. h2 holds at most that one frame, as it did
/// the frame sent on the first byte of window.
async fn pipe(mut first: Option<Frame<Bytes>>, mut body: Body, mut sending: h2::SendStream<Bytes>) {
    let mut waits = false;
    loop {
        if std::mem::replace(&mut waits, true) {
            sending.reserve_capacity(1);
            while sending.capacity() == 0 {
                match std::future::poll_fn(|cx| sending.poll_capacity(cx)).await {
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => return,
                }
            }
        }
        let frame = match first.take() {
            Some(frame) => Some(Ok(frame)),
            None => body.frame().await,
        };
        match frame {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => {
                    let end = body.is_end_stream();
                    if sending.send_data(data, end).is_err() || end {
                        return;
                    }
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        let _ = sending.send_trailers(trailers);
                        return;
                    }
                }
            },
            Some(Err(e)) => {
                tracing::debug!(error = %e, "a request body failed while it was sent");
                sending.send_reset(h2::Reason::INTERNAL_ERROR);
                return;
            }
            None => {
                let _ = sending.send_data(Bytes::new(), true);
                return;
            }
        }
    }
}

fn failed(e: h2::Error) -> TransportError {
    TransportError::Http(format!("http2 error: {e}"))
}

/// The headers HTTP/2 forbids (RFC 9113 8.2.2), as hyper removes them.
fn strip_connection_headers(headers: &mut http::HeaderMap) {
    // One pass over the request's few names finds them; most requests
    // carry none, and then nothing else is done.
    let found: Vec<HeaderName> = headers
        .keys()
        .filter(|name| is_connection_specific(name))
        .cloned()
        .collect();
    for name in found {
        if name == TE {
            if headers.get(TE).is_some_and(|te| te != "trailers") {
                headers.remove(TE);
            }
        } else if name == CONNECTION {
            // It and every header it lists.
            if let Some(listed) = headers.remove(CONNECTION)
                && let Ok(listed) = listed.to_str()
            {
                for other in listed.split(',') {
                    headers.remove(other.trim());
                }
            }
        } else {
            headers.remove(name);
        }
    }
}

/// Whether `name` is one HTTP/2 forbids: `te` only when it is not
/// "trailers", `connection` with every header it lists.
fn is_connection_specific(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection" | "transfer-encoding" | "upgrade" | "te" | "keep-alive" | "proxy-connection"
    )
}

fn has_payload_semantics(method: &http::Method) -> bool {
    !matches!(
        *method,
        http::Method::GET | http::Method::HEAD | http::Method::DELETE | http::Method::CONNECT
    )
}

/// The content-length an answer announces, when it is one number.
fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    let mut found = None;
    for value in headers.get_all(CONTENT_LENGTH) {
        for n in value.as_bytes().split(|&b| b == b',') {
            let n: u64 = std::str::from_utf8(n.trim_ascii()).ok()?.parse().ok()?;
            if found.is_some_and(|f| f != n) {
                return None;
            }
            found = Some(n);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client's `SendRequest` and the server's end of one HTTP/2
    /// connection over an in-memory pipe (h2 on both sides, no TLS); the
    /// client's connection is driven by a task, which ends with it.
    async fn connection() -> (
        SendRequest<Bytes>,
        h2::server::Connection<tokio::io::DuplexStream, Bytes>,
        tokio::task::JoinHandle<()>,
    ) {
        let (client, server) = tokio::io::duplex(1 << 16);
        let (client, server) =
            tokio::join!(h2::client::handshake(client), h2::server::handshake(server));
        let (sender, driver) = client.unwrap();
        let driven = tokio::spawn(async move {
            let _ = driver.await;
        });
        (sender, server.unwrap(), driven)
    }

    async fn read_all(mut body: h2::RecvStream) -> Vec<u8> {
        let mut all = Vec::new();
        while let Some(data) = body.data().await {
            let data = data.unwrap();
            let _ = body.flow_control().release_capacity(data.len());
            all.extend_from_slice(&data);
        }
        all
    }

    fn request(body: Outgoing) -> http::Request<Outgoing> {
        http::Request::post("https://api.example/services/Soap/u/62.0")
            .header("soapaction", "getUserInfo")
            .header(CONNECTION, "keep-alive, x-hop")
            .header("keep-alive", "timeout=5")
            .header("x-hop", "1")
            .header(TE, "gzip")
            .body(body)
            .unwrap()
    }

    #[tokio::test]
    async fn a_request_goes_whole_or_as_it_comes_and_its_answer_streams_back() {
        let (sender, mut server, _driven) = connection().await;
        let served = tokio::spawn(async move {
            // The connection moves frames only while `accept` is polled,
            // so each request is answered by a task of its own.
            let mut answered = Vec::new();
            while let Some(accepted) = server.accept().await {
                let (request, mut respond) = accepted.unwrap();
                answered.push(tokio::spawn(async move {
                    let (head, body) = request.into_parts();
                    let seen = (head.headers, read_all(body).await);
                    let answer = http::Response::builder()
                        .header(CONTENT_LENGTH, "11")
                        .body(())
                        .unwrap();
                    let mut sending = respond.send_response(answer, false).unwrap();
                    sending
                        .send_data(Bytes::from_static(b"hello "), false)
                        .unwrap();
                    sending
                        .send_data(Bytes::from_static(b"world"), true)
                        .unwrap();
                    seen
                }));
            }
            let mut seen = Vec::new();
            for one in answered {
                seen.push(one.await.unwrap());
            }
            seen
        });

        // Whole: sent with its length, the headers HTTP/2 forbids left out.
        let Tried::Answer(answer) = send(
            sender.clone(),
            request(Outgoing::Whole("<a/>".into())),
            true,
        )
        .await
        else {
            panic!("no answer");
        };
        assert_eq!(answer.body().size_hint().exact(), Some(11));
        let body = answer.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"hello world");

        // As it comes: the second frame is sent after the head went out.
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let streamed = Chan(rx).boxed_unsync();
        let sent = tokio::spawn(send(
            sender.clone(),
            request(Outgoing::Streamed(streamed)),
            true,
        ));
        tx.send("<b>".into()).await.unwrap();
        tokio::task::yield_now().await;
        tx.send("</b>".into()).await.unwrap();
        drop(tx);
        let Tried::Answer(answer) = sent.await.unwrap() else {
            panic!("no answer");
        };
        let body = answer.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"hello world");

        drop(sender);
        let seen = served.await.unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].1, b"<a/>");
        assert_eq!(seen[0].0[CONTENT_LENGTH], "4");
        assert_eq!(seen[1].1, b"<b></b>");
        assert!(
            !seen[1].0.contains_key(CONTENT_LENGTH),
            "a streamed body has no known length"
        );
        for (headers, _) in &seen {
            assert_eq!(headers["soapaction"], "getUserInfo");
            for gone in ["connection", "keep-alive", "x-hop", "te"] {
                assert!(!headers.contains_key(gone), "{gone} was sent: {headers:?}");
            }
        }
    }

    #[tokio::test]
    async fn a_connection_that_closed_gives_the_request_back_unsent() {
        let (sender, server, driven) = connection().await;
        drop(server);
        driven.await.unwrap();
        let tried = send(sender, request(Outgoing::Whole("<a/>".into())), true).await;
        let Tried::Unsent(unsent, e) = tried else {
            panic!("the request was taken");
        };
        assert!(matches!(unsent.body(), Outgoing::Whole(b) if &b[..] == b"<a/>"));
        assert!(e.to_string().contains("http2"), "{e}");
    }

    /// Serves `server` until it ends, each request by `answer` in a task
    /// of its own (the connection moves frames only while `accept` is
    /// polled).
    fn serve<F, A>(
        mut server: h2::server::Connection<tokio::io::DuplexStream, Bytes>,
        answer: F,
    ) -> tokio::task::JoinHandle<()>
    where
        F: Fn(http::Request<h2::RecvStream>, h2::server::SendResponse<Bytes>) -> A + Send + 'static,
        A: Future<Output = ()> + Send + 'static,
    {
        tokio::spawn(async move {
            while let Some(Ok((request, respond))) = server.accept().await {
                tokio::spawn(answer(request, respond));
            }
        })
    }

    /// `work`, or a failed test if it takes longer than ten seconds.
    async fn bounded<T>(work: impl Future<Output = T>) -> T {
        tokio::time::timeout(std::time::Duration::from_secs(10), work)
            .await
            .expect("it hung")
    }

    #[tokio::test]
    async fn a_caller_that_hangs_up_resets_its_stream_and_stops_its_upload() {
        let (sender, server, _driven) = connection().await;
        let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
        let _served = serve(server, move |request, respond| {
            let seen = seen_tx.clone();
            async move {
                // Never answered: reads the body until it fails.
                let _respond = respond;
                let mut body = request.into_body();
                while let Some(data) = body.data().await {
                    let failed = data.is_err();
                    let _ = seen.send(data.map(|d| d.len()).map_err(|e| e.reason()));
                    if failed {
                        break;
                    }
                }
            }
        });
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let call = tokio::spawn(send(
            sender,
            request(Outgoing::Streamed(Chan(rx).boxed_unsync())),
            true,
        ));
        tx.send("<a>".into()).await.unwrap();
        bounded(async {
            assert_eq!(seen.recv().await, Some(Ok(3)), "the first frame went");
            call.abort();
            let Err(ended) = call.await else {
                panic!("the call ended by itself")
            };
            assert!(ended.is_cancelled());
            // The body is no longer read: its pipe ended with the call.
            tx.closed().await;
            assert_eq!(
                seen.recv().await,
                Some(Err(Some(h2::Reason::CANCEL))),
                "the stream was reset"
            );
        })
        .await;
    }

    #[tokio::test]
    async fn an_answer_longer_than_the_window_flows_as_it_is_read_and_one_dropped_resets_its_stream()
     {
        const LONG: usize = 1 << 20;
        let (sender, server, _driven) = connection().await;
        let (reset_tx, mut reset) = tokio::sync::mpsc::unbounded_channel();
        let _served = serve(server, move |request, mut respond| {
            let reset = reset_tx.clone();
            async move {
                let long = request.uri().path() == "/long";
                let head = http::Response::builder().body(()).unwrap();
                let mut sending = respond.send_response(head, false).unwrap();
                if long {
                    // Sixteen times the client's 64 KB window: it goes
                    // only as the client gives the window back.
                    sending.send_data(vec![7; LONG].into(), true).unwrap();
                } else {
                    sending.send_data("a first part".into(), false).unwrap();
                    let why = std::future::poll_fn(|cx| sending.poll_reset(cx)).await;
                    let _ = reset.send(why.ok());
                }
            }
        });
        bounded(async {
            let get = |path: &str| {
                http::Request::get(format!("https://api.example{path}"))
                    .body(Outgoing::Whole(Bytes::new()))
                    .unwrap()
            };
            let Tried::Answer(answer) = send(sender.clone(), get("/long"), true).await else {
                panic!("no answer");
            };
            let body = answer.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body.len(), LONG);

            let Tried::Answer(answer) = send(sender, get("/short"), true).await else {
                panic!("no answer");
            };
            drop(answer);
            assert_eq!(reset.recv().await, Some(Some(h2::Reason::CANCEL)));
        })
        .await;
    }

    #[tokio::test]
    async fn a_refused_stream_gives_back_a_request_held_whole_and_fails_a_streamed_one() {
        let (sender, server, _driven) = connection().await;
        // Every stream is refused before its body is read.
        let _served = serve(server, |_request, mut respond| async move {
            respond.send_reset(h2::Reason::REFUSED_STREAM);
        });
        bounded(async {
            // Whole, or streamed but all there (a whole body boxed): given
            // back as it was, to go again, its head made legal for HTTP/2.
            for body in [
                Outgoing::Whole("<a/>".into()),
                Outgoing::Streamed(super::super::whole("<a/>".into())),
            ] {
                let Tried::Refused {
                    why,
                    again: Some(again),
                    ..
                } = send(sender.clone(), request(body), true).await
                else {
                    panic!("not given back");
                };
                assert_eq!(why, Refusal::Stream);
                assert_eq!(again.method(), http::Method::POST);
                assert_eq!(again.uri(), "https://api.example/services/Soap/u/62.0");
                assert_eq!(again.headers()["soapaction"], "getUserInfo");
                assert_eq!(again.headers()[CONTENT_LENGTH], "4");
                assert!(!again.headers().contains_key(CONNECTION));
                assert!(matches!(again.body(), Outgoing::Whole(b) if &b[..] == b"<a/>"));
            }

            // Its second try is not given back.
            let tried = send(
                sender.clone(),
                request(Outgoing::Whole("<a/>".into())),
                false,
            )
            .await;
            let Tried::Refused {
                again: None, error, ..
            } = tried
            else {
                panic!("given back on its second try");
            };
            let error = error.to_string();
            assert!(error.contains("REFUSED_STREAM"), "{error}");
            assert!(error.contains("already been sent once more"), "{error}");

            // A body still coming had begun to go: it cannot go again.
            let (tx, rx) = tokio::sync::mpsc::channel(2);
            tx.send("<b>".into()).await.unwrap();
            let streamed = Outgoing::Streamed(Chan(rx).boxed_unsync());
            let Tried::Refused {
                again: None, error, ..
            } = send(sender, request(streamed), true).await
            else {
                panic!("a streamed body was given back");
            };
            let error = error.to_string();
            assert!(
                error.contains("refused the request without processing it"),
                "{error}"
            );
            assert!(error.contains("its body was streamed"), "{error}");
        })
        .await;
    }

    #[tokio::test]
    async fn a_body_that_fails_before_it_goes_fails_its_request_with_its_error() {
        let (sender, server, _driven) = connection().await;
        let _served = serve(server, |_request, _respond| async {});
        let tried = send(
            sender,
            request(Outgoing::Streamed(Fails.boxed_unsync())),
            true,
        )
        .await;
        let Tried::Failed(e) = tried else {
            panic!("no failure");
        };
        assert!(e.to_string().contains("the caller went away"), "{e}");
    }

    /// A body that fails at once.
    struct Fails;

    impl hyper::body::Body for Fails {
        type Data = Bytes;
        type Error = BoxError;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
            Poll::Ready(Some(Err("the caller went away".into())))
        }
    }

    #[test]
    fn content_length_is_read_only_when_it_is_one_number() {
        let headers = |values: &[&str]| {
            let mut map = http::HeaderMap::new();
            for v in values {
                map.append(CONTENT_LENGTH, v.parse().unwrap());
            }
            map
        };
        assert_eq!(content_length(&headers(&[])), None);
        assert_eq!(content_length(&headers(&["42"])), Some(42));
        assert_eq!(content_length(&headers(&["42", "42, 42"])), Some(42));
        assert_eq!(content_length(&headers(&["42", "43"])), None);
        assert_eq!(content_length(&headers(&["x"])), None);
        assert_eq!(content_length(&headers(&["-1"])), None);
    }

    /// A body whose frames come through a channel, as a caller sends them.
    struct Chan(tokio::sync::mpsc::Receiver<Bytes>);

    impl hyper::body::Body for Chan {
        type Data = Bytes;
        type Error = BoxError;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
            self.0
                .poll_recv(cx)
                .map(|data| data.map(|d| Ok(Frame::data(d))))
        }
    }
}
