//! A `Content-Encoding: gzip` request body (WSC and Data Loader send them)
//! decoded as it comes. The compressed input is fed in small slices, so
//! one frame of a zip bomb never expands in memory past about a megabyte;
//! the decoded size is bounded by whoever reads the body.

use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use flate2::write::MultiGzDecoder;
use hyper::body::{Body, Frame};

use crate::transport::BoxError;

/// Compressed bytes fed at a time: deflate expands at most about 1032
/// to 1, so one step gives at most about a megabyte.
const SLICE: usize = 1024;

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
    ended: bool,
}

impl<B> Gunzip<B> {
    pub fn new(inner: B) -> Self {
        Self {
            inner,
            decoder: MultiGzDecoder::new(Vec::new()),
            input: Bytes::new(),
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
                        this.input = data;
                    }
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
                Poll::Ready(None) => {
                    this.ended = true;
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
    }
}
