//! An answer's body on the wire: whole, with a `Content-Length`, or in
//! chunks without one (`Transfer-Encoding: chunked` on HTTP/1.1), as
//! Salesforce sends Bulk results and large answers.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

/// Size of each part of a chunked answer.
const CHUNK: usize = 16 * 1024;

/// The body of one simulator answer.
#[derive(Debug)]
pub struct Answer {
    rest: Bytes,
    chunked: bool,
}

impl Answer {
    /// `body` sent whole, with its length announced.
    pub fn whole(body: Bytes) -> Self {
        Self {
            rest: body,
            chunked: false,
        }
    }

    /// `body` sent in parts, its length not announced.
    pub fn chunked(body: Bytes) -> Self {
        Self {
            rest: body,
            chunked: true,
        }
    }
}

impl Body for Answer {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.rest.is_empty() {
            return Poll::Ready(None);
        }
        let n = match self.chunked {
            true => CHUNK.min(self.rest.len()),
            false => self.rest.len(),
        };
        let part = self.rest.split_to(n);
        Poll::Ready(Some(Ok(Frame::data(part))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        match self.chunked {
            true => SizeHint::default(),
            false => SizeHint::with_exact(self.rest.len() as u64),
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn a_chunked_answer_comes_in_parts_without_a_length() {
        let body = Bytes::from(vec![b'x'; CHUNK * 2 + 5]);
        let mut answer = Answer::chunked(body.clone());
        assert_eq!(answer.size_hint().exact(), None);
        let mut parts = Vec::new();
        while let Some(frame) = answer.frame().await {
            parts.push(frame.unwrap().into_data().unwrap());
        }
        assert_eq!(
            parts.iter().map(Bytes::len).collect::<Vec<_>>(),
            [CHUNK, CHUNK, 5]
        );
        assert_eq!(parts.concat(), body.to_vec());

        let whole = Answer::whole(body.clone());
        assert_eq!(whole.size_hint().exact(), Some(body.len() as u64));
        assert_eq!(whole.collect().await.unwrap().to_bytes(), body);
    }
}
