//! What the callers' listener refuses on the request head alone, before any
//! route (workflows and the front door alike): a second `Authorization`
//! header, a `Content-Length` over `[server].max_body_kb`; and the
//! refusals hyper writes itself when it cannot parse a head (400, 414,
//! 431), which [`ProblemIo`] turns into answers like every other refusal:
//! in the client's format when the request line names a front-door path
//! (a SOAP fault, Salesforce's JSON error array), else problem+json.

use std::borrow::Cow;
use std::io::IoSlice;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::problem::{Problem, ProblemCode};

/// The refusal of a request whose head already says it cannot be served.
pub fn refusal(headers: &http::HeaderMap, max_body: usize) -> Option<Problem> {
    if headers.get_all(http::header::AUTHORIZATION).iter().count() > 1 {
        return Some(Problem::new(
            ProblemCode::BadRequest,
            "the request carries Authorization more than once: send one",
        ));
    }
    let length = headers.get(http::header::CONTENT_LENGTH)?;
    // hyper refuses a malformed or conflicting Content-Length itself.
    let length: u64 = length.to_str().ok()?.trim().parse().ok()?;
    (length > max_body as u64).then(|| {
        Problem::new(
            ProblemCode::PayloadTooLarge,
            format!(
                "Content-Length {length} is over the {max_body}-byte limit ([server] max_body_kb); the body was not read"
            ),
        )
    })
}

/// The longest answer hyper writes itself on a parse error: a status line,
/// `content-length: 0` and `date`.
const MAX_HYPER_HEAD: usize = 256;

/// Most bytes of a request's start kept to read its path when hyper
/// refuses its head: the method, and enough of the path for its API.
const KEPT_START: usize = 256;

/// A connection's I/O with hyper's own refusals replaced. Every answer the
/// gateway's service gives carries `x-request-id` (`routing::handle`); a
/// head hyper writes itself on a parse error (400, 414, 431) has none and no
/// body, and is the whole of the last write on its connection (hyper closes
/// it after). Such a write is replaced by the gateway's own answer with
/// `Connection: close`, in the client's format when the first bytes read
/// since the last answer (at most [`KEPT_START`]: a request line's start)
/// name a front-door path.
pub struct ProblemIo<I> {
    inner: I,
    /// The replacement still to be written, and how much of it is.
    pending: Option<(Vec<u8>, usize)>,
    /// The start of what the caller sent since the last write.
    start: Vec<u8>,
    /// Whether the last I/O was a write (the next read starts `start` anew).
    wrote: bool,
}

impl<I> ProblemIo<I> {
    pub fn new(inner: I) -> Self {
        Self {
            inner,
            pending: None,
            start: Vec::new(),
            wrote: false,
        }
    }
}

impl<I: AsyncWrite + Unpin> ProblemIo<I> {
    /// Writes what is left of the replacement.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while let Some((bytes, written)) = &mut self.pending {
            if *written == bytes.len() {
                self.pending = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }

    /// Takes `len` bytes of hyper's refusal, queuing `answer` instead.
    fn replace(
        &mut self,
        cx: &mut Context<'_>,
        answer: Vec<u8>,
        len: usize,
    ) -> Poll<std::io::Result<usize>> {
        self.pending = Some((answer, 0));
        match self.drain(cx) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            // The rest goes out on the flush hyper does next.
            _ => Poll::Ready(Ok(len)),
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for ProblemIo<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        let this = &mut *self;
        if std::mem::take(&mut this.wrote) {
            this.start.clear();
        }
        let room = KEPT_START - this.start.len().min(KEPT_START);
        let read = &buf.filled()[before..];
        this.start.extend_from_slice(&read[..read.len().min(room)]);
        Poll::Ready(Ok(()))
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for ProblemIo<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        ready!(self.drain(cx))?;
        self.wrote = true;
        if let Some(answer) = replacement(buf, &self.start) {
            return self.replace(cx, answer, buf.len());
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        ready!(self.drain(cx))?;
        self.wrote = true;
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        if len <= MAX_HYPER_HEAD {
            let whole: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            if let Some(answer) = replacement(&whole, &self.start) {
                return self.replace(cx, answer, len);
            }
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The answer for `written` when it is one of hyper's own refusals: a
/// whole head of status 400, 414 or 431 without `x-request-id` and
/// without a body. `start` is the start of the request it refuses: on a
/// front-door path the answer is in that API's format, else problem+json.
fn replacement(written: &[u8], start: &[u8]) -> Option<Vec<u8>> {
    if written.len() > MAX_HYPER_HEAD {
        return None;
    }
    let head = std::str::from_utf8(written).ok()?;
    let head = head.strip_suffix("\r\n\r\n")?;
    if head.contains("\r\n\r\n") {
        return None;
    }
    let mut lines = head.split("\r\n");
    let status = lines.next()?.strip_prefix("HTTP/1.1 ")?.get(..3)?;
    let mut empty = false;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        match name.trim().to_ascii_lowercase().as_str() {
            "x-request-id" => return None,
            "content-length" => empty = value.trim() == "0",
            _ => {}
        }
    }
    if !empty {
        return None;
    }
    let (code, detail) = match status {
        "400" => (
            ProblemCode::BadRequest,
            "the request is not HTTP/1.1 the gateway can read (a malformed request line or header)",
        ),
        "414" => (
            ProblemCode::UriTooLong,
            "the request target does not fit in the request head (at most 64 KiB)",
        ),
        "431" => (
            ProblemCode::HeadTooLarge,
            "the request head is over the limits: at most 100 headers and 64 KiB",
        ),
        _ => return None,
    };
    let request_id = super::routing::fresh_request_id();
    let mut problem = Problem::new(code, detail);
    problem.request_id = request_id.clone();
    if let Some(path) = front_door_path(start) {
        let response = super::front_door::refuse_early(&path, problem, &request_id);
        return serialized(response);
    }
    let body = serde_json::to_vec(&problem).ok()?;
    let mut answer = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\nconnection: close\r\nx-request-id: {request_id}\r\n\r\n",
        problem.title,
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    Some(answer)
}

/// The front-door path a request starts with (`METHOD /services/...`),
/// normalised, when `start` is a request line's start: a token of
/// letters, one space, then the path (up to a space, `?` or the end of
/// what was kept: enough to tell its API).
fn front_door_path(start: &[u8]) -> Option<String> {
    let space = start.iter().position(|&b| b == b' ')?;
    let (method, rest) = start.split_at(space);
    if method.is_empty() || method.len() > 16 || !method.iter().all(u8::is_ascii_uppercase) {
        return None;
    }
    let rest = &rest[1..];
    let end = rest
        .iter()
        .position(|&b| matches!(b, b' ' | b'?' | b'\r' | b'\n'))
        .unwrap_or(rest.len());
    let path = std::str::from_utf8(&rest[..end]).ok()?;
    if !path.starts_with('/') {
        return None;
    }
    super::front_door::claims(path).map(Cow::into_owned)
}

/// A whole answer the gateway wrote (its body in one piece) as the bytes
/// of an HTTP/1.1 answer that closes its connection.
fn serialized(response: http::Response<crate::transport::Body>) -> Option<Vec<u8>> {
    use hyper::body::Body as _;
    let (parts, mut body) = response.into_parts();
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let mut bytes = Vec::new();
    loop {
        match Pin::new(&mut body).poll_frame(&mut cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    bytes.extend_from_slice(data);
                }
            }
            Poll::Ready(None) => break,
            // Only a body written whole is sent this way.
            Poll::Ready(Some(Err(_))) | Poll::Pending => return None,
        }
    }
    let mut answer = format!(
        "HTTP/1.1 {} {}\r\n",
        parts.status.as_u16(),
        parts.status.canonical_reason().unwrap_or("")
    )
    .into_bytes();
    for (name, value) in &parts.headers {
        answer.extend_from_slice(name.as_str().as_bytes());
        answer.extend_from_slice(b": ");
        answer.extend_from_slice(value.as_bytes());
        answer.extend_from_slice(b"\r\n");
    }
    answer.extend_from_slice(
        format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            bytes.len()
        )
        .as_bytes(),
    );
    answer.extend_from_slice(&bytes);
    Some(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn two_authorizations_or_a_body_over_the_cap_are_refused_on_the_head() {
        let twice = headers(&[("authorization", "Bearer a"), ("authorization", "Bearer b")]);
        let problem = refusal(&twice, 10).expect("refused");
        assert_eq!(problem.code, ProblemCode::BadRequest);
        assert!(!problem.detail.contains("Bearer"), "{}", problem.detail);
        let large = headers(&[("content-length", "11")]);
        assert_eq!(
            refusal(&large, 10).unwrap().code,
            ProblemCode::PayloadTooLarge
        );
        let fits = headers(&[("authorization", "Bearer a"), ("content-length", "10")]);
        assert!(refusal(&fits, 10).is_none());
    }

    #[test]
    fn only_hyper_s_own_refusals_are_replaced() {
        let hyper = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Sun, 06 Dec 2026 17:00:00 GMT\r\n\r\n";
        let answer = String::from_utf8(replacement(hyper, b"").expect("replaced")).unwrap();
        assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
        assert!(answer.contains("application/problem+json"), "{answer}");
        assert!(answer.contains("\"code\":\"head_too_large\""), "{answer}");
        for status in ["400 Bad Request", "414 URI Too Long"] {
            let head = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
            assert!(replacement(head.as_bytes(), b"").is_some(), "{status}");
        }
        // The gateway's own answers carry x-request-id; others pass.
        let ours = b"HTTP/1.1 400 Bad Request\r\nx-request-id: 1\r\ncontent-length: 0\r\n\r\n";
        assert!(replacement(ours, b"").is_none());
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
        assert!(replacement(with_body, b"").is_none());
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert!(replacement(ok, b"").is_none());
    }

    #[tokio::test]
    async fn the_connection_keeps_the_start_of_what_the_caller_sent() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut caller, server) = tokio::io::duplex(1 << 16);
        let mut io = ProblemIo::new(server);
        let many: String = (0..101).map(|i| format!("x-h{i}: v\r\n")).collect();
        let request = format!("POST /services/Soap/u/62.0 HTTP/1.1\r\nHost: x\r\n{many}\r\n");
        caller.write_all(request.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 8192];
        let n = io.read(&mut buf).await.unwrap();
        assert_eq!(n, request.len());
        io.write_all(b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n")
            .await
            .unwrap();
        io.flush().await.unwrap();
        drop(io);
        let mut answer = String::new();
        caller.read_to_string(&mut answer).await.unwrap();
        assert!(
            answer.contains("<faultcode>sf:EXCEEDED_MAX_SIZE_REQUEST</faultcode>"),
            "{answer}"
        );
    }

    #[test]
    fn on_a_front_door_path_the_refusal_is_in_the_client_s_format() {
        let hyper = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n";
        let soap = replacement(
            hyper,
            b"POST /services/Soap/u/62.0 HTTP/1.1\r\nHost: x\r\nX-A: ",
        );
        let soap = String::from_utf8(soap.expect("replaced")).unwrap();
        assert!(soap.starts_with("HTTP/1.1 500 "), "{soap}");
        assert!(soap.contains("content-type: text/xml"), "{soap}");
        assert!(
            soap.contains("<faultcode>sf:EXCEEDED_MAX_SIZE_REQUEST</faultcode>"),
            "{soap}"
        );
        assert!(soap.contains("connection: close\r\n"), "{soap}");
        let (head, body) = soap.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        // A path cut short (a request target too long to keep) still
        // tells its API.
        let long = format!("GET /services/data/v62.0/query?q={}", "x".repeat(300));
        let rest = replacement(hyper, &long.as_bytes()[..KEPT_START]).expect("replaced");
        let rest = String::from_utf8(rest).unwrap();
        assert!(rest.starts_with("HTTP/1.1 431 "), "{rest}");
        assert!(
            rest.contains("\"errorCode\":\"EXCEEDED_MAX_SIZE_REQUEST\""),
            "{rest}"
        );
        // Anything else stays problem+json.
        for start in [
            &b"GET /tenants/a/workflows/b HTTP/1.1"[..],
            b"",
            b"\x16\x03\x01",
            b"get /services/data",
        ] {
            let answer = String::from_utf8(replacement(hyper, start).unwrap()).unwrap();
            assert!(answer.contains("application/problem+json"), "{answer}");
        }
    }
}
