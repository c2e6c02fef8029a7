//! What the callers' listener refuses on the request head alone, before any
//! route (workflows and the front door alike): a second `Authorization`
//! header, a `Content-Length` over `[server].max_body_kb`; and the
//! refusals hyper writes itself when it cannot parse a head (400, 414,
//! 431), which [`ProblemIo`] turns into problem+json answers like every
//! other refusal.

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

/// A connection's I/O with hyper's own refusals replaced. Every answer the
/// gateway's service gives carries `x-request-id` (`routing::handle`); a
/// head hyper writes itself on a parse error (400, 414, 431) has none and no
/// body, and is the whole of the last write on its connection (hyper closes
/// it after). Such a write is replaced by a problem+json answer with
/// `Connection: close`.
pub struct ProblemIo<I> {
    inner: I,
    /// The replacement still to be written, and how much of it is.
    pending: Option<(Vec<u8>, usize)>,
}

impl<I> ProblemIo<I> {
    pub fn new(inner: I) -> Self {
        Self {
            inner,
            pending: None,
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
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for ProblemIo<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        ready!(self.drain(cx))?;
        if let Some(answer) = replacement(buf) {
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
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        if len <= MAX_HYPER_HEAD {
            let whole: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            if let Some(answer) = replacement(&whole) {
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

/// The problem+json answer for `written` when it is one of hyper's own
/// refusals: a whole head of status 400, 414 or 431 without
/// `x-request-id` and without a body.
fn replacement(written: &[u8]) -> Option<Vec<u8>> {
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
    let request_id = format!("{:032x}", rand::random::<u128>());
    let mut problem = Problem::new(code, detail);
    problem.request_id = request_id.clone();
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
        let answer = String::from_utf8(replacement(hyper).expect("replaced")).unwrap();
        assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
        assert!(answer.contains("application/problem+json"), "{answer}");
        assert!(answer.contains("\"code\":\"head_too_large\""), "{answer}");
        for status in ["400 Bad Request", "414 URI Too Long"] {
            let head = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
            assert!(replacement(head.as_bytes()).is_some(), "{status}");
        }
        // The gateway's own answers carry x-request-id; others pass.
        let ours = b"HTTP/1.1 400 Bad Request\r\nx-request-id: 1\r\ncontent-length: 0\r\n\r\n";
        assert!(replacement(ours).is_none());
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
        assert!(replacement(with_body).is_none());
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert!(replacement(ok).is_none());
    }
}
