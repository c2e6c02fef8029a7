//! The host's `soap` imports on the native target: the gateway's own
//! reader (crate `twoway-wire`) reads the answer, as the host does, so a
//! workflow's unit test sees the fields and errors production gives. They
//! need no fake host, except `send-for-results`, which sends through it.
//! Same names and signatures as the generated imports.

use twoway_wire::salesforce::results::{self as wire, ResultsError};

use crate::bindings::twoway::gateway::soap::{
    PackedResults, ResultField, SaveError, SaveResult, Span,
};
use crate::upstream_error as fail;
use crate::{OutboundRequest, UpstreamError};

/// The children of every `<result>` of the answer `body`.
pub fn results(body: &[u8]) -> Result<PackedResults, UpstreamError> {
    let (text, fields, ends) = wire::results(body).map_err(unread)?.into_parts(
        |start, end| Span { start, end },
        |name, value| ResultField { name, value },
    );
    Ok(PackedResults { text, fields, ends })
}

/// Sends `request` as the fake host's `send` does and reads the answer of
/// a success as [`results`] does; an answer that is not a success is the
/// error the SDK makes of its verdict (WIT `soap.send-for-results`).
pub fn send_for_results(request: &OutboundRequest) -> Result<PackedResults, UpstreamError> {
    let response = super::imports::send(request)?;
    if let Some(e) = crate::soap::unsuccessful(response.status, &response.verdict) {
        return Err(e);
    }
    results(&response.body)
}

/// Every `<result>` of the answer `body` read as a save result.
pub fn save_results(body: &[u8]) -> Result<Vec<SaveResult>, UpstreamError> {
    let results = wire::save_results(body).map_err(unread)?;
    Ok(results
        .into_iter()
        .map(|r| SaveResult {
            id: r.id,
            success: r.success,
            created: r.created,
            errors: r
                .errors
                .into_iter()
                .map(|e| SaveError {
                    status_code: e.status_code,
                    message: e.message,
                    fields: e.fields,
                })
                .collect(),
        })
        .collect())
}

/// The host's error for an answer it could not read.
fn unread(e: ResultsError) -> UpstreamError {
    match e {
        ResultsError::Refused(_) => fail::refused(e.to_string()),
        ResultsError::TooManyNodes => UpstreamError::TooLarge(e.to_string()),
        ResultsError::Unreadable(_) => fail::upstream_fault(wire::INVALID_XML, e.to_string()),
    }
}
