//! Front-door policy `read-only`: the tenant's existing clients may read
//! (queries, describes, retrieves, identity, Bulk queries) but change
//! nothing. A refused request never reaches Salesforce; the client gets
//! INSUFFICIENT_ACCESS in its API's format, naming what was refused.
//!
//! Config: `allow` (optional), a comma-separated list of SOAP operations
//! allowed besides the read-only ones.

use twoway_plugin::policy::*;

struct ReadOnly;

/// SOAP operations that change nothing.
const READS: &[&str] = &[
    "query",
    "queryAll",
    "queryMore",
    "retrieve",
    "search",
    "describeGlobal",
    "describeSObject",
    "describeSObjects",
    "describeLayout",
    "describeTabs",
    "getUserInfo",
    "getServerTimestamp",
    "getUpdated",
    "getDeleted",
    "login",
    "logout",
];

impl Policy for ReadOnly {
    fn on_request(request: FrontRequest) -> RequestDecision {
        // Answers pass as they are: the instance ends with this hook.
        skip_response();
        match refusal(&request) {
            None => RequestDecision::Pass,
            Some(reason) => {
                log(Level::Info, &format!("refused: {reason}"));
                RequestDecision::Refuse(format!(
                    "this tenant is read-only at the gateway: {reason}"
                ))
            }
        }
    }

    fn on_response(_request: FrontRequest, _response: FrontResponse) -> ResponseDecision {
        // Not called: `on_request` skips the answer.
        ResponseDecision::Pass
    }
}

/// Why `request` would change data, if it would.
fn refusal(request: &FrontRequest) -> Option<String> {
    match request.api {
        Api::SoapPartner | Api::SoapEnterprise => {
            // The host read the envelope already.
            let name = operation()?;
            let allowed = config("allow").unwrap_or_default();
            let extra = allowed.split(',').map(str::trim);
            let read = READS.contains(&name.as_str()) || extra.clone().any(|a| a == name);
            (!read).then(|| format!("the SOAP operation {name}"))
        }
        Api::SoapMetadata => Some("the Metadata API".into()),
        Api::Bulk => {
            // A job is created with its operation; batches and closing a
            // job only follow a job that was allowed.
            let body = String::from_utf8_lossy(&request.body);
            let creates_job =
                request.method == "POST" && request.path.trim_end_matches('/').ends_with("/job");
            let reads = ["query", "queryAll"].iter().any(|op| {
                body.contains(&format!("<operation>{op}</operation>"))
                    || body.contains(&format!("\"operation\":\"{op}\""))
                    || body.contains(&format!("\"operation\" : \"{op}\""))
            });
            (creates_job && !reads).then(|| "a Bulk API job that is not a query".into())
        }
        Api::Rest | Api::ApexRest => {
            let reads = matches!(request.method.as_str(), "GET" | "HEAD" | "OPTIONS");
            // Bulk 2.0 query jobs and parameterized search are POSTs that read.
            let path = request.path.trim_end_matches('/');
            let query_job = request.method == "POST"
                && (path.ends_with("/jobs/query") || path.ends_with("/parameterizedSearch"));
            (!reads && !query_job).then(|| format!("{} {}", request.method, request.path))
        }
    }
}

twoway_plugin::policy::export_policy!(ReadOnly);
