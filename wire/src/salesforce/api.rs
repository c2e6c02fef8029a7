//! The six APIs, where each one lives on an instance (docs/architecture.md,
//! "Salesforce wire formats"), and how a
//! plugin's relative path becomes a URL that cannot leave its API's base.

use std::fmt;
use std::str::FromStr;

use http::Uri;

use super::SalesforceError;

/// An API a plugin can call (the WIT `api` enum), and two more only the
/// front door passes on (not in [`Api::ALL`]: a plugin cannot name them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    SoapPartner,
    SoapEnterprise,
    SoapMetadata,
    Rest,
    Bulk,
    ApexRest,
    /// SOAP tooling, `/services/Soap/T/{version}`.
    SoapTooling,
    /// Apex SOAP (`executeAnonymous`, `compileClasses`, ...), `/services/Soap/s/{version}`.
    SoapApex,
}

impl Api {
    /// Every API, in WIT order.
    pub const ALL: [Api; 6] = [
        Api::SoapPartner,
        Api::SoapEnterprise,
        Api::SoapMetadata,
        Api::Rest,
        Api::Bulk,
        Api::ApexRest,
    ];

    /// The name used by WIT, the CLI and logs (`soap-partner`, `rest`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Api::SoapPartner => "soap-partner",
            Api::SoapEnterprise => "soap-enterprise",
            Api::SoapMetadata => "soap-metadata",
            Api::Rest => "rest",
            Api::Bulk => "bulk",
            Api::ApexRest => "apex-rest",
            Api::SoapTooling => "soap-tooling",
            Api::SoapApex => "soap-apex",
        }
    }

    /// True for the SOAP APIs (session in the envelope's SessionHeader).
    pub fn is_soap(self) -> bool {
        self.soap_namespace().is_some()
    }

    /// The HTTP methods the API takes: SOAP is POST only; REST, Bulk and
    /// Apex REST take GET, HEAD, POST, PUT, PATCH and DELETE. Anything else
    /// (TRACE, CONNECT, OPTIONS, made-up methods) is never sent.
    pub fn methods(self) -> &'static [http::Method] {
        const SOAP: &[http::Method] = &[http::Method::POST];
        const HTTP: &[http::Method] = &[
            http::Method::GET,
            http::Method::HEAD,
            http::Method::POST,
            http::Method::PUT,
            http::Method::PATCH,
            http::Method::DELETE,
        ];
        if self.is_soap() { SOAP } else { HTTP }
    }

    /// The namespace of the SOAP API's SessionHeader.
    pub(crate) fn soap_namespace(self) -> Option<&'static str> {
        match self {
            Api::SoapPartner => Some("urn:partner.soap.sforce.com"),
            Api::SoapEnterprise => Some("urn:enterprise.soap.sforce.com"),
            Api::SoapMetadata => Some("http://soap.sforce.com/2006/04/metadata"),
            Api::SoapTooling => Some("urn:tooling.soap.sforce.com"),
            Api::SoapApex => Some("http://soap.sforce.com/2006/08/apex"),
            _ => None,
        }
    }
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Api {
    type Err = SalesforceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Api::ALL
            .into_iter()
            .find(|api| api.name() == s)
            .ok_or_else(|| SalesforceError::UnknownApi(s.chars().take(64).collect()))
    }
}

/// What a session says about where the APIs live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// `scheme://host[:port]` from serverUrl / instance_url.
    pub base_url: Uri,
    /// e.g. `/services/Soap/u/62.0/00D...`.
    pub partner_path: String,
    pub metadata_path: Option<String>,
    /// e.g. `62.0`.
    pub api_version: String,
    /// The 15-character org id.
    pub org_id: String,
}

impl Instance {
    /// From a SOAP login's serverUrl (partner, or enterprise which is mapped
    /// to the partner path) and metadataServerUrl. The version and org id in
    /// the URL win over `api_version`.
    pub fn from_server_url(
        server_url: &str,
        metadata_server_url: Option<&str>,
        api_version: &str,
    ) -> Result<Self, SalesforceError> {
        let uri = parse_url(server_url, "serverUrl")?;
        let Some((_, version, org)) = soap_path_parts(uri.path()) else {
            return Err(SalesforceError::InvalidInstance(format!(
                "serverUrl path `{}` is not /services/Soap/u/{{version}}/{{orgId}}",
                short(uri.path())
            )));
        };
        let version = if version.is_empty() {
            api_version
        } else {
            version
        };
        check_version(version)?;
        let org = org15(org);
        let metadata_path = metadata_server_url
            .and_then(|u| u.parse::<Uri>().ok())
            .map(|u| u.path().trim_end_matches('/').to_string())
            .filter(|p| p.starts_with("/services/Soap/m/"));
        Ok(Self {
            base_url: origin(&uri)?,
            partner_path: format!("/services/Soap/u/{version}/{org}"),
            metadata_path,
            api_version: version.to_string(),
            org_id: org.to_string(),
        })
    }

    /// From an OAuth token's instance_url, the configured API version and the org id.
    pub fn from_instance_url(
        instance_url: &str,
        api_version: &str,
        org_id: &str,
    ) -> Result<Self, SalesforceError> {
        let uri = parse_url(instance_url, "instance_url")?;
        check_version(api_version)?;
        let org = org15(org_id);
        if org.is_empty() || !org.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(SalesforceError::InvalidInstance(format!(
                "org id `{}` is not a Salesforce id",
                short(org)
            )));
        }
        Ok(Self {
            base_url: origin(&uri)?,
            partner_path: format!("/services/Soap/u/{api_version}/{org}"),
            metadata_path: None,
            api_version: api_version.to_string(),
            org_id: org.to_string(),
        })
    }

    /// The base path of `api`: SOAP bases have no trailing slash, the others do.
    pub fn base_path(&self, api: Api) -> String {
        let (ver, org) = soap_path_parts(&self.partner_path)
            .map(|(_, v, o)| (v.to_string(), o.to_string()))
            .unwrap_or_else(|| (self.api_version.clone(), self.org_id.clone()));
        match api {
            Api::SoapPartner => self.partner_path.trim_end_matches('/').to_string(),
            Api::SoapEnterprise => format!("/services/Soap/c/{ver}/{org}"),
            Api::SoapMetadata => self
                .metadata_path
                .clone()
                .unwrap_or_else(|| format!("/services/Soap/m/{ver}/{org}")),
            Api::Rest => format!("/services/data/v{}/", self.api_version),
            Api::Bulk => format!("/services/async/{}/", self.api_version),
            Api::ApexRest => "/services/apexrest/".to_string(),
            Api::SoapTooling => format!("/services/Soap/T/{ver}"),
            Api::SoapApex => format!("/services/Soap/s/{ver}"),
        }
    }
}

/// The URL for `api` and the relative `path` (which may carry `?query`).
/// `mutual_auth_port` rewrites the port of the instance host: login returns
/// the standard URL, mutual authentication needs 8443.
pub fn resolve(
    api: Api,
    path: &str,
    instance: &Instance,
    mutual_auth_port: Option<u16>,
) -> Result<Uri, SalesforceError> {
    let invalid = |reason: &str| SalesforceError::InvalidPath {
        path: short(path).to_string(),
        reason: reason.to_string(),
    };
    let (rel, query) = match path.split_once('?') {
        Some((rel, query)) => (rel, Some(query)),
        None => (path, None),
    };
    check_path(rel).map_err(|reason| invalid(&reason))?;
    if let Some(query) = query {
        if query.chars().any(char::is_control) {
            return Err(invalid("the query contains a control character"));
        }
        if !query.is_ascii() {
            return Err(invalid(
                "the query contains a non-ASCII character; percent-encode it as UTF-8",
            ));
        }
        if query.contains('#') {
            return Err(invalid(
                "it has a fragment (`#`); percent-encode `#` as %23",
            ));
        }
    }
    let base = instance.base_path(api);
    let mut target = match (rel.is_empty(), base.ends_with('/')) {
        (true, _) => base,
        (false, true) => format!("{base}{rel}"),
        (false, false) => format!("{base}/{rel}"),
    };
    if let Some(query) = query {
        target.push('?');
        target.push_str(query);
    }
    let base_url = &instance.base_url;
    let (Some(scheme), Some(host)) = (base_url.scheme_str(), base_url.host()) else {
        return Err(SalesforceError::InvalidInstance(format!(
            "base URL `{}` has no scheme or host",
            short(&base_url.to_string())
        )));
    };
    let authority = match mutual_auth_port.or(base_url.port_u16()) {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    Uri::builder()
        .scheme(scheme)
        .authority(authority)
        .path_and_query(target)
        .build()
        .map_err(|e| {
            invalid(&format!(
                "it is not a valid URL path ({e}); percent-encode spaces, quotes and non-ASCII characters"
            ))
        })
}

/// Why `rel` (the part before `?`) is not a plain relative path, if it is not.
fn check_path(rel: &str) -> Result<(), String> {
    if rel.len() > 8192 {
        return Err("it is longer than 8192 characters".into());
    }
    if rel.chars().any(char::is_control) {
        return Err("it contains a control character".into());
    }
    if !rel.is_ascii() {
        return Err("it contains a non-ASCII character; percent-encode it as UTF-8".into());
    }
    if rel.contains('\\') {
        return Err("it contains a backslash; separate segments with `/`".into());
    }
    if rel.contains('#') {
        return Err("it has a fragment (`#`); percent-encode `#` as %23".into());
    }
    if rel.starts_with('/') {
        return Err("it starts with `/`; leave out the leading slash and the base".into());
    }
    let first = rel.split('/').next().unwrap_or("");
    if first.contains(':') {
        return Err(
            "it starts with a scheme or host (`x:`); a plugin names an API and a path, never a URL"
                .into(),
        );
    }
    if rel.contains("//") {
        return Err("it has an empty segment (`//`)".into());
    }
    for segment in rel.split('/') {
        let decoded = decode_repeatedly(segment);
        if decoded.chars().any(char::is_control) {
            return Err("it percent-encodes a control character".into());
        }
        if decoded.split(['/', '\\']).any(|s| s == "." || s == "..") {
            return Err(
                "it has a `.` or `..` segment (percent-encoded or not) and would leave the API base"
                    .into(),
            );
        }
    }
    Ok(())
}

/// Percent-decodes until nothing changes (at most three rounds), so that
/// `%252e%252e` is seen as the `..` it becomes after double decoding.
fn decode_repeatedly(segment: &str) -> String {
    let mut text = segment.to_string();
    for _ in 0..3 {
        if !text.contains('%') {
            break;
        }
        let next = percent_decode(&text);
        if next == text {
            break;
        }
        text = next;
    }
    text
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `(letter, version, org)` of `/services/Soap/{letter}/{version}/{org}[/...]`.
fn soap_path_parts(path: &str) -> Option<(&str, &str, &str)> {
    let mut parts = path.strip_prefix("/services/Soap/")?.split('/');
    let letter = parts.next().filter(|l| !l.is_empty())?;
    let version = parts.next().filter(|v| !v.is_empty())?;
    let org = parts.next().filter(|o| !o.is_empty())?;
    Some((letter, version, org))
}

/// The 15-character form of an org id (18-character ids add a checksum).
fn org15(org: &str) -> &str {
    if org.len() == 18 && org.is_ascii() {
        &org[..15]
    } else {
        org
    }
}

fn check_version(version: &str) -> Result<(), SalesforceError> {
    if version.is_empty()
        || version.len() > 16
        || !version.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    {
        return Err(SalesforceError::InvalidInstance(format!(
            "API version `{}` is not like 62.0",
            short(version)
        )));
    }
    Ok(())
}

fn parse_url(url: &str, what: &str) -> Result<Uri, SalesforceError> {
    let uri: Uri = url.trim().parse().map_err(|e| {
        SalesforceError::InvalidInstance(format!("{what} `{}` is not a URL: {e}", short(url)))
    })?;
    match uri.scheme_str() {
        Some("https" | "http") if uri.host().is_some() => Ok(uri),
        _ => Err(SalesforceError::InvalidInstance(format!(
            "{what} `{}` is not an https:// URL with a host",
            short(url)
        ))),
    }
}

/// `scheme://host[:port]` of `uri` (user info and path dropped).
fn origin(uri: &Uri) -> Result<Uri, SalesforceError> {
    let scheme = uri.scheme_str().unwrap_or("https");
    let host = uri.host().unwrap_or("");
    let text = match uri.port_u16() {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    };
    text.parse().map_err(|e| {
        SalesforceError::InvalidInstance(format!("`{}` is not a URL: {e}", short(&text)))
    })
}

/// At most 200 characters of `text`, for error messages.
fn short(text: &str) -> &str {
    match text.char_indices().nth(200) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
