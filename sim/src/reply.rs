//! What a simulator handler answers: status, content type, extra headers and
//! body, plus the replies every API shares (the Certificate Error page).

use twoway::xml::escape;

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    /// A Bulk result (Bulk 2.0 query and ingest results, Bulk 1.0 batch
    /// results and result sets): sent chunked as Salesforce sends them,
    /// whatever its size ([`crate::config::Limits::chunked_answers`]).
    pub bulk_result: bool,
}

impl Reply {
    /// An XML answer (`text/xml; charset=utf-8`, as Salesforce sends).
    pub fn xml(status: u16, body: String) -> Self {
        Self::new(status, "text/xml; charset=utf-8", body)
    }

    /// A JSON answer.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self::new(status, "application/json;charset=UTF-8", value.to_string())
    }

    /// A CSV answer (Bulk results).
    pub fn csv(status: u16, body: String) -> Self {
        Self::new(status, "text/csv; charset=UTF-8", body)
    }

    /// A plain-text answer.
    pub fn text(status: u16, body: &str) -> Self {
        Self::new(status, "text/plain;charset=UTF-8", body.to_string())
    }

    /// An empty answer (REST 204).
    pub fn empty(status: u16) -> Self {
        Self::new(status, "", String::new())
    }

    fn new(status: u16, content_type: &'static str, body: String) -> Self {
        Self {
            status,
            content_type,
            headers: Vec::new(),
            body,
            bulk_result: false,
        }
    }

    /// Marks a successful Bulk result (sent chunked when it is one).
    pub fn bulk_result(mut self) -> Self {
        self.bulk_result = self.status == 200;
        self
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The mutual-auth port's HTML page, byte for byte the one the seed saw,
    /// with `reason` in the `<i>` element. The HTTP status of the real page was
    /// not recorded; the simulator answers 400, like other servers that refuse
    /// a missing client certificate.
    pub fn certificate_error(reason: &str) -> Self {
        Self::new(
            400,
            "text/html",
            format!(
                "<html><head><title>Certificate Error</title></head><body bgcolor=#ffffff text=#3198d8><center><img src=\"http://www.sfdcstatic.com/common/assets/img/logo-company.png\"><p><h3>Client certificate error:<i>{}</i></h3></center></body></html>",
                escape(reason)
            ),
        )
    }

    /// REST's error array: `[{"message":..,"errorCode":..}]`.
    pub fn rest_error(status: u16, code: &str, message: &str) -> Self {
        Self::json(
            status,
            &serde_json::json!([{ "message": message, "errorCode": code }]),
        )
    }
}

/// The reason text for a client certificate that has no session's org.
pub const NO_CLIENT_CERTIFICATE: &str = "No client certificate provided.";
/// The reason for a certificate that chains but is not registered for the org.
pub const NOT_REGISTERED: &str =
    "certificate is not registered as a mutual authentication certificate for this organization";
