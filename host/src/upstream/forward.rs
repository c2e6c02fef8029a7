//! The front door's way to the API: a client's request sent, as it came, to
//! an absolute path on the tenant's instance (the mutual-auth port when
//! `mutual_auth`), with the tenant's session swapped in where the API
//! carries it, the API budget, one re-login and retry on INVALID_SESSION_ID,
//! and the answer passed back unchanged but for secrets in its headers.

use std::time::Instant;

use bytes::Bytes;
use http::Uri;
use tracing::Instrument as _;

use super::{Outbound, Passed, Sending, TenantUpstream, UpstreamError};
use crate::salesforce::{Api, Prepared};
use crate::session::Session;
use crate::transport;

/// A client's request for the instance.
#[derive(Debug, Clone)]
pub struct Forward {
    /// How the session goes in and how an error answer reads.
    pub api: Api,
    pub method: http::Method,
    /// Absolute on the instance (`/services/data/v62.0/query?q=...`),
    /// already checked by the front door.
    pub path_and_query: String,
    /// The client's headers less its credentials and hop-by-hop headers.
    pub headers: http::HeaderMap,
    pub body: Bytes,
    /// `body` already checked and split where the session goes, when the
    /// front door parsed it anyway; else it is prepared here.
    pub prepared: Option<Prepared>,
}

/// What the tenant's session says of the org and user, for login answers.
#[derive(Debug, Clone)]
pub struct SessionFacts {
    pub org_id: String,
    pub user_id: String,
    /// The Salesforce username the tenant logs in as, when its config says.
    pub user_name: Option<String>,
    /// The origins the instance's answers name (standard and mutual-auth
    /// port, and the login host), which the front door rewrites to its own.
    pub origins: Vec<String>,
}

impl TenantUpstream {
    /// The tenant's session's org, user and instance origins (logging in
    /// when there is no session yet).
    pub async fn session_facts(&self) -> Result<SessionFacts, UpstreamError> {
        let session = self.sessions.session().await?;
        let base = session.instance.base_url.to_string();
        let base = base.trim_end_matches('/').to_string();
        let mut origins = vec![base];
        if let Ok(uri) = self.target(&session, "/") {
            let mutual = uri.to_string();
            let mutual = mutual.trim_end_matches('/').to_string();
            if !origins.contains(&mutual) {
                origins.push(mutual);
            }
        }
        // Identity answers name the login host too (`id`), as Salesforce's
        // name login.salesforce.com.
        let login = &self.sessions.settings().login_url;
        if let (Some(scheme), Some(authority)) = (login.scheme_str(), login.authority()) {
            let login = format!("{scheme}://{authority}");
            if !origins.contains(&login) {
                origins.push(login);
            }
        }
        Ok(SessionFacts {
            org_id: session.instance.org_id.clone(),
            user_id: session.user_id.clone(),
            user_name: self.sessions.settings().auth.username().map(str::to_string),
            origins,
        })
    }

    /// Sends `req` with the tenant's session; on INVALID_SESSION_ID logs in
    /// again (once for all concurrent failures) and retries once. Refused
    /// before anything is sent when the tenant's API budget is spent.
    ///
    /// `streamed` is the body as it comes, when it was too large to hold
    /// (then `req.body` is empty): it goes once, so an INVALID_SESSION_ID
    /// answer to it is passed back as the API gave it. A success goes back
    /// unread: as it comes when `stream_answer`, else read whole (under
    /// `max_response_kb`).
    pub async fn forward(
        &self,
        req: &Forward,
        streamed: Option<transport::Body>,
        stream_answer: bool,
    ) -> Result<Passed, UpstreamError> {
        let (span, started) = (self.call_span(req.api), Instant::now());
        let result = async {
            if streamed.is_some() && req.api.is_soap() {
                return Err(UpstreamError::InvalidRequest(
                    "a SOAP envelope is never streamed".into(),
                ));
            }
            let prepared = match &req.prepared {
                Some(prepared) => {
                    super::check_method(req.api, &req.method)?;
                    prepared.clone()
                }
                None => {
                    super::prepare(&Outbound {
                        api: req.api,
                        method: req.method.clone(),
                        path: String::new(),
                        headers: http::HeaderMap::new(),
                        body: req.body.clone(),
                    })
                    .await?
                }
            };
            let mut streamed = streamed.map(Some);
            let request = |session: &Session| {
                let uri = self.target(session, &req.path_and_query)?;
                let (headers, body) = super::with_session(&req.headers, &prepared, session)?;
                let body = match streamed.as_mut() {
                    None => transport::whole(body),
                    Some(once) => match once.take() {
                        Some(body) => body,
                        None => return Ok(None),
                    },
                };
                let request = super::build(&req.method, uri, headers, body)?;
                Ok(Some(Sending::Open {
                    request,
                    stream: stream_answer,
                }))
            };
            self.attempts(req.api, request).await
        }
        .instrument(span.clone())
        .await;
        self.report(req.api, &span, started, result.as_ref().map(|p| &p.verdict));
        result
    }

    /// The instance URL for `path_and_query` (the mutual-auth port when on).
    fn target(&self, session: &Session, path_and_query: &str) -> Result<Uri, UpstreamError> {
        let base = &session.instance.base_url;
        let invalid = |why: String| UpstreamError::InvalidRequest(why);
        let (Some(scheme), Some(host)) = (base.scheme_str(), base.host()) else {
            return Err(invalid("the session's instance URL has no host".into()));
        };
        let port = self
            .settings
            .mutual_auth
            .then_some(self.settings.mutual_auth_port)
            .or(base.port_u16());
        let authority = match port {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        Uri::builder()
            .scheme(scheme)
            .authority(authority)
            .path_and_query(path_and_query)
            .build()
            .map_err(|e| invalid(format!("not a valid URL path: {e}")))
    }
}
