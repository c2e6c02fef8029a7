//! The probe request of `--connect`: the seed's getUserInfo, without a
//! session, on the connection the handshake made, and what its answer says
//! about the certificate. "Accepted" is generic: no TLS alert and no HTML
//! "Certificate Error" page ([`salesforce::classify`] recognises it);
//! Salesforce and the simulator answer INVALID_SESSION_ID instead.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;

use super::connect::{TIMEOUT, alert_text, rustls_error};
use super::report::{Check, CheckId, ConnectReport};
use twoway::salesforce::{self, Api, Outcome};

/// The probe's path: the partner SOAP API, as in the seed.
pub const PROBE_PATH: &str = "/services/Soap/u/62.0";
/// The seed's getUserInfo, without a SessionHeader (no session is needed to
/// see whether the certificate gets past the mutual-auth port).
pub const PROBE_BODY: &str = r#"<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com"><soapenv:Body><urn:getUserInfo/></soapenv:Body></soapenv:Envelope>"#;
/// Largest answer read.
const MAX_ANSWER: usize = 256 * 1024;

type TlsStream = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// The `certificate_accepted` check: the probe request and what came back.
pub async fn accepted_check(
    tls: TlsStream,
    host: &str,
    port: u16,
    report: &mut ConnectReport,
) -> Check {
    let id = CheckId::CertificateAccepted;
    let rejected_by_alert = |report: &mut ConnectReport, e: &(dyn std::error::Error + 'static)| {
        let alert = rustls_error(e).and_then(alert_text)?;
        report.accepted = Some(false);
        report.rejection_reason = Some(alert.clone());
        Some(Check::error(
            id,
            format!("the server refused the certificate with {alert}"),
            "see chain_complete and server_ca_hints: the server must trust the CA that issued the chain",
        ))
    };
    let no_answer = |what: String| {
        Check::error(
            id,
            format!("no HTTP answer: {what}"),
            "check that HOST:PORT is an HTTPS API endpoint",
        )
    };
    let exchange = async {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
        tokio::spawn(conn);
        let request = http::Request::builder()
            .method(http::Method::POST)
            .uri(PROBE_PATH)
            .header(http::header::HOST, format!("{host}:{port}"))
            .header(http::header::CONTENT_TYPE, "text/xml; charset=UTF-8")
            .header("soapaction", "getUserInfo")
            .body(Full::new(Bytes::from_static(PROBE_BODY.as_bytes())));
        let request = match request {
            Ok(r) => r,
            Err(_) => return Ok(None),
        };
        let response = sender.send_request(request).await?;
        let (parts, body) = response.into_parts();
        let body = match Limited::new(body, MAX_ANSWER).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => Bytes::new(),
        };
        Ok::<_, hyper::Error>(Some((parts, body)))
    };
    let (parts, body) = match tokio::time::timeout(TIMEOUT, exchange).await {
        Ok(Ok(Some(answer))) => answer,
        Ok(Ok(None)) => return no_answer("cannot build the request for this host".to_string()),
        Ok(Err(e)) => {
            if let Some(check) = rejected_by_alert(report, &e) {
                return check;
            }
            return no_answer(e.to_string());
        }
        Err(_) => return no_answer(format!("timed out after {TIMEOUT:?}")),
    };
    let status = parts.status.as_u16();
    report.http_status = Some(status);
    match salesforce::classify(Api::SoapPartner, status, &parts.headers, &body) {
        Outcome::CertificateRejected { reason } => {
            report.accepted = Some(false);
            report.rejection_reason = Some(reason.clone());
            Check::error(
                id,
                format!(
                    "the server refused the certificate: HTTP {status}, Certificate Error page: \"{reason}\""
                ),
                rejection_fix(&reason),
            )
        }
        outcome => {
            let requested = report.client_certificate_requested;
            report.accepted = requested.then_some(true);
            let seen = match &outcome {
                Outcome::InvalidSession { .. } => {
                    "INVALID_SESSION_ID, as expected without a session".to_string()
                }
                other => {
                    let text = other.to_string();
                    text.chars().take(160).collect()
                }
            };
            if requested {
                Check::ok(
                    id,
                    format!("the server accepted the certificate (HTTP {status}: {seen})"),
                )
            } else {
                Check::warning(
                    id,
                    format!(
                        "HTTP {status}: {seen}; the server did not ask for a certificate, so it did not judge ours"
                    ),
                    "connect to the mutual-auth port (8443 on Salesforce), not the standard one",
                )
            }
        }
    }
}

fn rejection_fix(reason: &str) -> String {
    let reason = reason.to_ascii_lowercase();
    let fix = if reason.contains("no client certificate") {
        "no certificate reached the server: fix the key and certificate problems above so the identity can be presented"
    } else if reason.contains("self-signed") || reason.contains("self signed") {
        "use a certificate issued by a CA the server trusts instead of a self-signed one"
    } else if reason.contains("local issuer") || reason.contains("unknown ca") {
        "send the full chain (intermediates after the leaf) and use a certificate from a CA the server trusts"
    } else if reason.contains("expired") || reason.contains("not yet valid") {
        "renew the certificate (see validity)"
    } else if reason.contains("purpose") {
        "use an SSL/TLS client certificate (extendedKeyUsage clientAuth)"
    } else if reason.contains("not registered") {
        "upload the leaf certificate to the org (Setup > Certificate and Key Management > Mutual Authentication Certificates)"
    } else {
        "check the chain, its CA and that the certificate is uploaded to the org as a mutual authentication certificate"
    };
    fix.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixes_follow_the_reason() {
        assert!(rejection_fix("unable to get local issuer certificate").contains("full chain"));
        assert!(
            rejection_fix("certificate is not registered as a mutual authentication certificate")
                .contains("upload")
        );
    }
}
