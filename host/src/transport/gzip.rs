//! A `Content-Encoding: gzip` body decoded as it comes: a front-door
//! request (WSC and Data Loader send them) or an API answer the gateway
//! must read. The compressed input is fed in small slices, so one frame of
//! a zip bomb never expands in memory past about a megabyte; the decoded
//! size is bounded by whoever reads the body. An empty body is empty
//! whatever it says (WSC sends `Content-Encoding: gzip` on its Bulk GETs).

use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use flate2::write::MultiGzDecoder;
use hyper::body::{Body, Frame};

use super::BoxError;

/// Compressed bytes fed at a time: deflate expands at most about 1032
/// to 1, so one step gives at most about a megabyte.
const SLICE: usize = 1024;

/// True when `headers` say the body is gzip (`Content-Encoding: gzip`).
pub fn is_gzip(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let v = v.trim();
            v.eq_ignore_ascii_case("gzip") || v.eq_ignore_ascii_case("x-gzip")
        })
}

/// True when a request's `Accept-Encoding` takes gzip (`gzip`, `x-gzip`
/// or `*`, with a q-value above zero).
pub fn accepts_gzip(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(http::header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let known = ["gzip", "x-gzip", "*"]
                .iter()
                .any(|c| coding.eq_ignore_ascii_case(c));
            let zero = parts.any(|p| {
                let p = p.trim();
                p.len() > 2
                    && p[..2].eq_ignore_ascii_case("q=")
                    && p[2..].trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
            });
            known && !zero
        })
}

/// Why a gzip body could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("the body is not valid gzip ({0}); send it uncompressed or gzip it whole")]
pub struct GzipError(String);

/// `inner`, gzip-decoded.
pub struct Gunzip<B> {
    inner: B,
    decoder: MultiGzDecoder<Vec<u8>>,
    /// Compressed bytes not fed yet.
    input: Bytes,
    /// Whether any byte came at all: an empty body decodes to nothing.
    fed: bool,
    ended: bool,
}

impl<B> Gunzip<B> {
    pub fn new(inner: B) -> Self {
        Self {
            inner,
            decoder: MultiGzDecoder::new(Vec::new()),
            input: Bytes::new(),
            fed: false,
            ended: false,
        }
    }

    /// The output of the next slice of input, if it gave any.
    fn step(&mut self) -> Result<Option<Bytes>, GzipError> {
        let n = self.input.len().min(SLICE);
        self.decoder
            .write_all(&self.input[..n])
            .map_err(|e| GzipError(e.to_string()))?;
        self.input.advance(n);
        Ok(self.take())
    }

    fn take(&mut self) -> Option<Bytes> {
        let out = std::mem::take(self.decoder.get_mut());
        (!out.is_empty()).then(|| Bytes::from(out))
    }
}

impl<B> Body for Gunzip<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        loop {
            while !this.input.is_empty() {
                match this.step() {
                    Ok(Some(out)) => return Poll::Ready(Some(Ok(Frame::data(out)))),
                    Ok(None) => {}
                    Err(e) => return Poll::Ready(Some(Err(Box::new(e)))),
                }
            }
            if this.ended {
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        this.fed |= !data.is_empty();
                        this.input = data;
                    }
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
                Poll::Ready(None) => {
                    this.ended = true;
                    if !this.fed {
                        return Poll::Ready(None);
                    }
                    if let Err(e) = this.decoder.try_finish() {
                        return Poll::Ready(Some(Err(Box::new(GzipError(e.to_string())))));
                    }
                    if let Some(out) = this.take() {
                        return Poll::Ready(Some(Ok(Frame::data(out))));
                    }
                    return Poll::Ready(None);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use http_body_util::{BodyExt, Full};

    use super::*;

    fn gzip(data: &[u8]) -> Bytes {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(data).unwrap();
        Bytes::from(encoder.finish().unwrap())
    }

    #[test]
    fn accept_encoding_takes_gzip_unless_its_q_is_zero() {
        let takes = |value: &str| {
            let mut headers = http::HeaderMap::new();
            headers.insert(
                http::header::ACCEPT_ENCODING,
                http::HeaderValue::from_str(value).unwrap(),
            );
            accepts_gzip(&headers)
        };
        assert!(takes("gzip"));
        assert!(takes("gzip, deflate, br, zstd"));
        assert!(takes("deflate, GZIP;q=0.5"));
        assert!(takes("*"));
        assert!(!takes("identity"));
        assert!(!takes("br, deflate"));
        assert!(!takes("gzip;q=0"));
        assert!(!takes("gzip; q=0.0, br"));
        assert!(!accepts_gzip(&http::HeaderMap::new()));
    }

    #[tokio::test]
    async fn a_gzip_body_comes_out_decoded_in_bounded_steps() {
        let plain = "Name\n".to_string() + &"Acme\n".repeat(200_000);
        let body = Gunzip::new(Full::new(gzip(plain.as_bytes())));
        let mut body = body;
        let mut out = Vec::new();
        while let Some(frame) = body.frame().await {
            let data = frame.unwrap().into_data().unwrap();
            assert!(data.len() <= 1100 * SLICE, "one step gave {}", data.len());
            out.extend_from_slice(&data);
        }
        assert_eq!(out, plain.as_bytes());
    }

    #[tokio::test]
    async fn a_broken_or_truncated_body_is_an_error() {
        let error = Gunzip::new(Full::new(Bytes::from("not gzip at all")))
            .collect()
            .await
            .unwrap_err();
        assert!(error.to_string().contains("not valid gzip"), "{error}");
        let whole = gzip(b"hello world, hello world");
        let cut = whole.slice(..whole.len() - 6);
        assert!(Gunzip::new(Full::new(cut)).collect().await.is_err());
        let one = whole.slice(..1);
        assert!(Gunzip::new(Full::new(one)).collect().await.is_err());
    }

    #[tokio::test]
    async fn an_empty_body_is_empty_gzip_or_not() {
        let body = Gunzip::new(Full::new(Bytes::new())).collect().await;
        assert!(body.unwrap().to_bytes().is_empty());
    }
}
