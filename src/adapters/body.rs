//! Reading an `http-body` body into bytes, never past a limit.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::HeaderMap;
use http::header::CONTENT_LENGTH;
use http_body::Body;
use http_body_util::BodyExt;

use crate::transport::BodyLimit;

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum ReadError<E> {
    /// The body is longer than the limit; what is left was not read.
    TooLarge,
    /// The body failed.
    Body(E),
}

/// Reads `body` to its end, or stops as soon as it exceeds `limit` bytes (or its declared
/// `Content-Length` does), without reading the rest: refusing it, or keeping what fits.
pub(crate) async fn read_limited<B: Body>(
    headers: &HeaderMap,
    body: B,
    limit: BodyLimit,
) -> Result<Bytes, ReadError<B::Error>> {
    let (refuse, limit) = (!limit.truncates(), limit.bytes());
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if refuse && declared.is_some_and(|length| length > limit as u64) {
        return Err(ReadError::TooLarge);
    }
    let mut body = std::pin::pin!(body);
    let mut out = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(ReadError::Body)?;
        if let Ok(mut data) = frame.into_data() {
            let room = limit.saturating_sub(out.len());
            if data.remaining() > room {
                if refuse {
                    return Err(ReadError::TooLarge);
                }
                out.put(data.take(room));
                break;
            }
            out.put(&mut data);
        }
    }
    Ok(out.freeze())
}
