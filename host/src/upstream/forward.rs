//! The front door's way to the API: a client's request sent, as it came, to
//! an absolute path on the tenant's instance (the mutual-auth port when
//! `mutual_auth`), with the tenant's session swapped in where the API
//! carries it, the API budget, one re-login and retry on INVALID_SESSION_ID,
//! and the answer passed back unchanged but for secrets in its headers.

use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http::Uri;

use super::{Answer, Outbound, TenantUpstream, UpstreamError};
use crate::salesforce::{self, Api, Outcome, Prepared, Verdict};
use crate::session::{Session, UsageReport};

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
}

/// What the tenant's session says of the org and user, for login answers.
#[derive(Debug, Clone)]
pub struct SessionFacts {
    pub org_id: String,
    pub user_id: String,
    /// The origins the instance's answers name (standard and mutual-auth
    /// port), which the front door rewrites to its own.
    pub origins: Vec<String>,
}

impl TenantUpstream {
    /// The tenant's session's org, user and instance origins (logging in
    /// when there is no session yet).
    pub async fn session_facts(&self) -> Result<SessionFacts, UpstreamError> {
        let session = self.session().await?;
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
        Ok(SessionFacts {
            org_id: session.instance.org_id.clone(),
            user_id: session.user_id.clone(),
            origins,
        })
    }

    /// Sends `req` with the tenant's session; on INVALID_SESSION_ID logs in
    /// again (once for all concurrent failures) and retries once. Refused
    /// before anything is sent when the tenant's API budget is spent.
    pub async fn forward(&self, req: &Forward) -> Result<Answer, UpstreamError> {
        let started = Instant::now();
        let result = self.forward_once(req).await;
        if let Some(observer) = &self.observer {
            let ended = match &result {
                Ok(answer) => Ok(&answer.verdict),
                Err(e) => Err(e.problem_code()),
            };
            observer.upstream_call(&self.settings.tenant, req.api, ended, started.elapsed());
        }
        result
    }

    async fn forward_once(&self, req: &Forward) -> Result<Answer, UpstreamError> {
        let prepared = super::prepare(&Outbound {
            api: req.api,
            method: req.method.clone(),
            path: String::new(),
            headers: http::HeaderMap::new(),
            body: req.body.clone(),
        })
        .await?;
        self.adopt_fleet_usage();
        self.usage
            .admit(&self.settings.api_budget, Instant::now())
            .map_err(UpstreamError::ApiBudget)?;
        let first = self.session().await?;
        if let Some(answer) = self.pass(req, &prepared, &first).await? {
            return Ok(answer);
        }
        self.sessions.invalidate(&first);
        let second = self.session().await?;
        match self.pass(req, &prepared, &second).await? {
            Some(answer) => Ok(answer),
            None => {
                self.sessions.invalidate(&second);
                Err(UpstreamError::SessionRejected(
                    "INVALID_SESSION_ID after a fresh login".into(),
                ))
            }
        }
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

    /// One attempt; `None` when the API rejected the session.
    async fn pass(
        &self,
        req: &Forward,
        prepared: &Prepared,
        session: &Session,
    ) -> Result<Option<Answer>, UpstreamError> {
        let uri = self.target(session, &req.path_and_query)?;
        let mut headers = req.headers.clone();
        let body = prepared
            .apply(&session.id, &mut headers)
            .map_err(|e| UpstreamError::InvalidRequest(e.to_string()))?;
        let mut request = http::Request::builder()
            .method(req.method.clone())
            .uri(uri)
            .body(body)
            .map_err(|e| UpstreamError::InvalidRequest(e.to_string()))?;
        *request.headers_mut() = headers;
        let reply = self.exchange.exchange(request).await?;
        let is_html = reply
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        // A success goes back unread (but for its usage); only an error
        // answer, or an HTML page where the API speaks XML or JSON, is read.
        let (usage, outcome, reply) = if reply.status < 400 && !is_html {
            let usage = salesforce::api_usage(&reply.headers, &reply.body);
            (usage, Outcome::Answer(Verdict::Success), reply)
        } else {
            super::read(req.api, reply).await?
        };
        if let Some((used, limit)) = usage {
            let report = UsageReport {
                used,
                limit,
                at: SystemTime::now(),
            };
            self.usage.observe(report, Instant::now());
            self.sessions.share_usage(report);
        }
        match outcome {
            Outcome::Answer(verdict) => {
                let mut headers = reply.headers;
                salesforce::strip_secrets(&mut headers);
                Ok(Some(Answer {
                    status: reply.status,
                    headers,
                    body: reply.body,
                    verdict,
                }))
            }
            Outcome::InvalidSession { .. } => Ok(None),
            Outcome::CertificateRejected { reason } => {
                Err(UpstreamError::ClientCertificateRejected { reason })
            }
            Outcome::MutualAuthFailed { message } => {
                Err(UpstreamError::MutualAuthenticationFailed {
                    message,
                    hint: "check the tenant's mutual_auth, mutual_auth_port and client_identity",
                })
            }
            Outcome::RequestLimitExceeded { message } => {
                Err(UpstreamError::ApiLimitExceeded { message })
            }
            Outcome::Refused { reason } => Err(UpstreamError::AnswerRefused { reason }),
        }
    }
}
