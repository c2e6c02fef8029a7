//! Which of Salesforce's APIs a front-door path belongs to: the family its
//! errors are written in, the [`Api`] whose carrier the session goes in, and
//! whether the answer names the instance (identity, userinfo). Paths are
//! taken as clients write them (`//services`, trailing slashes) but never
//! with a `.` or `..` segment.

use std::borrow::Cow;

use crate::salesforce::Api;

/// The format a client reads errors in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// A SOAP fault; `Api` says which WSDL (its fault namespace).
    Soap(Api),
    /// Salesforce's REST error array (REST, Bulk 2.0, Apex REST, identity).
    Rest,
    /// The Bulk 1.0 `asyncapi` error.
    Bulk,
    /// OAuth's `{error, error_description}`.
    OAuth,
}

/// What a front-door path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/services/Soap/{u,c,m,T,s}/{version}[/...]`: a `login` (u and c) or a call.
    Soap { api: Api, version: String },
    /// `/services/oauth2/token`.
    OAuthToken,
    /// Proxied as is; `rewrite` when the answer names the instance,
    /// `stream` when bodies stream (Bulk data).
    Proxy {
        api: Api,
        family: Family,
        rewrite: bool,
        stream: bool,
    },
    /// A path under Salesforce's surface that the front door does not serve.
    NotFound(Family),
}

impl Route {
    /// The format errors on this route are written in.
    pub fn family(&self) -> Family {
        match self {
            Route::Soap { api, .. } => Family::Soap(*api),
            Route::OAuthToken => Family::OAuth,
            Route::Proxy { family, .. } | Route::NotFound(family) => *family,
        }
    }

    /// True when bodies on this route stream both ways (past `max_body_kb`,
    /// up to `max_stream_mb`): Bulk 1.0, Bulk 2.0 uploads and results.
    pub fn streams(&self) -> bool {
        matches!(self, Route::Proxy { stream: true, .. })
    }

    /// A short name for logs and metrics: the API's name, but `bulk1` and
    /// `bulk2` for Bulk 1.0 and 2.0 (`path` tells Bulk 2.0 from REST),
    /// `identity` for the identity URL and userinfo.
    pub fn api_name(&self, path: &str) -> &'static str {
        match self {
            Route::Proxy { api: Api::Bulk, .. } => "bulk1",
            Route::Proxy { rewrite: true, .. } => "identity",
            Route::Proxy { api: Api::Rest, .. } if is_bulk2(path) => "bulk2",
            Route::Soap { api, .. } | Route::Proxy { api, .. } => api.name(),
            Route::OAuthToken => "oauth-token",
            Route::NotFound(_) => "none",
        }
    }
}

/// `/services/data/v{v}/jobs/...`: Bulk 2.0.
fn is_bulk2(path: &str) -> bool {
    let mut parts = path.trim_start_matches('/').split('/');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some("services"), Some("data"), Some(v), Some("jobs")) if v.starts_with('v')
    )
}

/// The path with its leading slashes collapsed to one (`//services` as
/// Data Loader and the sf CLI write it), when it is Salesforce's surface.
/// Borrowed when it has one already (most paths), so that asking costs no
/// allocation.
pub fn normalise(path: &str) -> Option<Cow<'_, str>> {
    let rest = path.trim_start_matches('/');
    let ours = rest == "services" || rest.starts_with("services/") || rest.starts_with("id/");
    if !ours {
        return None;
    }
    Some(match path.len() - rest.len() {
        1 => Cow::Borrowed(path),
        _ => Cow::Owned(format!("/{rest}")),
    })
}

/// The route of a normalised path.
pub fn route(path: &str) -> Route {
    let family = if path.starts_with("/services/Soap/") {
        Family::Soap(Api::SoapPartner)
    } else if path.starts_with("/services/async/") {
        Family::Bulk
    } else if path.starts_with("/services/oauth2/") {
        Family::OAuth
    } else {
        Family::Rest
    };
    if !plain(path) {
        return Route::NotFound(family);
    }
    let trimmed = path.trim_end_matches('/');
    let under = |prefix: &str| trimmed == prefix || path.starts_with(&format!("{prefix}/"));
    let proxy = |api, family, rewrite| Route::Proxy {
        api,
        family,
        rewrite,
        stream: false,
    };
    if trimmed == "/services/oauth2/token" {
        return Route::OAuthToken;
    }
    if trimmed == "/services/oauth2/userinfo" {
        return proxy(Api::Rest, Family::Rest, true);
    }
    if let Some(rest) = path.strip_prefix("/services/Soap/") {
        let mut parts = rest.split('/');
        let api = match parts.next() {
            Some("u") => Api::SoapPartner,
            Some("c") => Api::SoapEnterprise,
            Some("m") => Api::SoapMetadata,
            Some("T") => Api::SoapTooling,
            Some("s") => Api::SoapApex,
            _ => return Route::NotFound(family),
        };
        let version = parts.next().unwrap_or("");
        if !is_version(version) {
            return Route::NotFound(Family::Soap(api));
        }
        return Route::Soap {
            api,
            version: version.to_string(),
        };
    }
    if under("/services/data") {
        return Route::Proxy {
            api: Api::Rest,
            family: Family::Rest,
            rewrite: false,
            stream: is_bulk2_data(trimmed),
        };
    }
    if under("/services/apexrest") {
        return proxy(Api::ApexRest, Family::Rest, false);
    }
    if path.starts_with("/services/async/") {
        return Route::Proxy {
            api: Api::Bulk,
            family: Family::Bulk,
            rewrite: false,
            stream: true,
        };
    }
    if let Some(rest) = path.strip_prefix("/id/") {
        let ids: Vec<_> = rest.trim_end_matches('/').split('/').collect();
        if ids.len() == 2 && ids.iter().all(|id| is_id(id)) {
            return proxy(Api::Rest, Family::Rest, true);
        }
    }
    Route::NotFound(family)
}

/// `/services/data/v{v}/jobs/ingest/{id}/{batches, successfulResults,
/// failedResults, unprocessedrecords}` or `.../jobs/query/{id}/results`:
/// Bulk 2.0's data, which may be large.
fn is_bulk2_data(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["", "services", "data", v, "jobs", "ingest", id, what] => {
            v.starts_with('v')
                && !id.is_empty()
                && matches!(
                    *what,
                    "batches" | "successfulResults" | "failedResults" | "unprocessedrecords"
                )
        }
        ["", "services", "data", v, "jobs", "query", id, "results"] => {
            v.starts_with('v') && !id.is_empty()
        }
        _ => false,
    }
}

/// `62.0`-like.
fn is_version(v: &str) -> bool {
    !v.is_empty() && v.len() <= 8 && v.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// A 15- or 18-character Salesforce id.
fn is_id(id: &str) -> bool {
    matches!(id.len(), 15 | 18) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// No `.` or `..` segment (percent-encoded once or twice, or hidden behind
/// an encoded `/`), no backslash or control character, at most 8 KiB: the
/// path cannot leave the API it names. An encoded `/` inside a segment (an
/// external id) is kept.
fn plain(path: &str) -> bool {
    if path.len() > 8192 || path.contains('\\') || path.chars().any(char::is_control) {
        return false;
    }
    // Without a `%` nothing decodes: each segment is as it reads (most
    // paths, and every request is asked this).
    if !path.contains('%') {
        return path
            .split('/')
            .all(|segment| !matches!(segment, "." | ".."));
    }
    path.split('/').all(|segment| {
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        let decoded = percent_encoding::percent_decode_str(&decoded).decode_utf8_lossy();
        !decoded.chars().any(char::is_control)
            && decoded
                .split(['/', '\\'])
                .all(|part| !matches!(part, "." | ".."))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salesforce_paths_are_claimed_with_leading_slashes_collapsed() {
        assert_eq!(
            normalise("//services/Soap/u/64.0/").as_deref(),
            Some("/services/Soap/u/64.0/")
        );
        assert_eq!(
            normalise("/id/00D000000000001/005000000000001").as_deref(),
            Some("/id/00D000000000001/005000000000001")
        );
        assert_eq!(normalise("/tenants/acme/workflows/x"), None);
        assert_eq!(normalise("/servicesX"), None);
        assert_eq!(normalise("/"), None);
    }

    #[test]
    fn every_api_has_its_route() {
        let soap = |api, v: &str| Route::Soap {
            api,
            version: v.into(),
        };
        assert_eq!(
            route("/services/Soap/u/62.0"),
            soap(Api::SoapPartner, "62.0")
        );
        assert_eq!(
            route("/services/Soap/c/62.0/00D000000000001"),
            soap(Api::SoapEnterprise, "62.0")
        );
        assert_eq!(
            route("/services/Soap/m/62.0/00D000000000001"),
            soap(Api::SoapMetadata, "62.0")
        );
        assert_eq!(
            route("/services/Soap/T/62.0"),
            soap(Api::SoapTooling, "62.0")
        );
        assert_eq!(route("/services/Soap/s/62.0"), soap(Api::SoapApex, "62.0"));
        assert_eq!(route("/services/oauth2/token/"), Route::OAuthToken);
        let rest = |rewrite| Route::Proxy {
            api: Api::Rest,
            family: Family::Rest,
            rewrite,
            stream: false,
        };
        assert_eq!(route("/services/data"), rest(false));
        assert_eq!(route("/services/data/v62.0/query/"), rest(false));
        assert_eq!(route("/services/data/v62.0/jobs/ingest//"), rest(false));
        assert_eq!(
            route("/services/data/v62.0/sobjects/Account/Ext__c/new%2F1"),
            rest(false)
        );
        assert_eq!(route("/services/oauth2/userinfo"), rest(true));
        assert_eq!(
            route("/id/00D000000000001AAA/005000000000001AAA"),
            rest(true)
        );
        assert_eq!(
            route("/services/async/62.0/job/750x/batch/751x/result/"),
            Route::Proxy {
                api: Api::Bulk,
                family: Family::Bulk,
                rewrite: false,
                stream: true
            }
        );
        assert_eq!(
            route("/services/apexrest/my/thing"),
            Route::Proxy {
                api: Api::ApexRest,
                family: Family::Rest,
                rewrite: false,
                stream: false
            }
        );
    }

    #[test]
    fn each_api_has_its_label() {
        for (path, name) in [
            ("/services/Soap/u/62.0", "soap-partner"),
            ("/services/Soap/m/62.0/00D", "soap-metadata"),
            ("/services/Soap/T/62.0", "soap-tooling"),
            ("/services/Soap/s/62.0", "soap-apex"),
            ("/services/data/v62.0/query", "rest"),
            ("/services/data/v62.0/jobs/ingest", "bulk2"),
            ("/services/data/v62.0/jobs/query/750x/results", "bulk2"),
            ("/services/async/62.0/job", "bulk1"),
            ("/services/apexrest/x", "apex-rest"),
            ("/services/oauth2/userinfo", "identity"),
            ("/services/oauth2/token", "oauth-token"),
            ("/services/nothing", "none"),
        ] {
            assert_eq!(route(path).api_name(path), name, "{path}");
        }
    }

    #[test]
    fn bulk_data_streams_and_nothing_else() {
        for streams in [
            "/services/async/62.0/job/750x/batch",
            "/services/async/62.0/job/750x/batch/751x/result/752x",
            "/services/data/v62.0/jobs/ingest/750x/batches",
            "/services/data/v62.0/jobs/ingest/750x/batches/",
            "/services/data/v62.0/jobs/ingest/750x/successfulResults",
            "/services/data/v62.0/jobs/query/750x/results",
        ] {
            assert!(route(streams).streams(), "{streams}");
        }
        for held in [
            "/services/data/v62.0/jobs/ingest",
            "/services/data/v62.0/jobs/ingest/750x",
            "/services/data/v62.0/jobs/query/750x",
            "/services/data/v62.0/query",
            "/services/data/v62.0/sobjects/Account/001x/results",
            "/services/Soap/u/62.0",
            "/services/oauth2/userinfo",
        ] {
            assert!(!route(held).streams(), "{held}");
        }
    }

    #[test]
    fn what_is_not_served_is_not_found_in_its_family() {
        assert_eq!(
            route("/services/Soap/x/62.0"),
            Route::NotFound(Family::Soap(Api::SoapPartner))
        );
        assert_eq!(
            route("/services/Soap/u/abc"),
            Route::NotFound(Family::Soap(Api::SoapPartner))
        );
        assert_eq!(
            route("/services/oauth2/authorize"),
            Route::NotFound(Family::OAuth)
        );
        assert_eq!(route("/services/async"), Route::NotFound(Family::Rest));
        assert_eq!(route("/services/nothing"), Route::NotFound(Family::Rest));
        assert_eq!(route("/id/x/y"), Route::NotFound(Family::Rest));
        for escape in [
            "/services/data/../../secur/frontdoor.jsp",
            "/services/data/v62.0/%2e%2e/x",
            "/services/data/v62.0/%252e%252e/x",
            "/services/data/v62.0/a%2f..%2fb",
            "/services/async/62.0/job\\x",
            "/services/data/v62.0/./x",
            "/services/data/v62.0/..",
            "/services/data/v62.0/sobjects/\u{7}",
            "/services/data/v62.0/a%00b",
        ] {
            assert!(matches!(route(escape), Route::NotFound(_)), "{escape}");
        }
        // Dots inside a segment, and an encoded `/` inside one (an
        // external id), are plain.
        for kept in [
            "/services/data/v62.0/sobjects/Account/ext__c/a.b..c",
            "/services/data/v62.0/sobjects/Account/ext__c/a%2Fb",
        ] {
            assert!(matches!(route(kept), Route::Proxy { .. }), "{kept}");
        }
    }
}
