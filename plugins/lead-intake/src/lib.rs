//! Workflow `lead-intake`: a web form's JSON becomes a Lead (partner SOAP
//! `create`), answered `{"id": "00Q..."}` with status 201.
//!
//! Input: `first_name`, `last_name` (required), `company` (required),
//! `email` (checked when given), `phone`, `message` (the Lead's
//! Description). Plugin config: `lead_source` (default `Web`) and `status`
//! (default `Open - Not Contacted`).

use serde::Deserialize;
use twoway_plugin::prelude::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Form {
    first_name: Option<String>,
    last_name: Option<String>,
    company: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    message: Option<String>,
}

struct LeadIntake;

impl Guest for LeadIntake {
    fn handle(request: InboundRequest) -> Result<WorkflowResponse, WorkflowError> {
        let form: Form = request.json()?;
        let mut problems = Vec::new();
        if present(&form.last_name).is_none() {
            problems.push("last_name is required".to_string());
        }
        if present(&form.company).is_none() {
            problems.push("company is required".to_string());
        }
        if let Some(email) = present(&form.email).filter(|e| !is_email(e)) {
            problems.push(format!("email `{email}` is not a valid address"));
        }
        if !problems.is_empty() {
            return Err(bad_request(problems.join("; ")));
        }

        let fields = [
            ("FirstName", present(&form.first_name).map(str::to_string)),
            ("LastName", present(&form.last_name).map(str::to_string)),
            ("Company", present(&form.company).map(str::to_string)),
            ("Email", present(&form.email).map(str::to_string)),
            ("Phone", present(&form.phone).map(str::to_string)),
            ("Description", present(&form.message).map(str::to_string)),
            ("LeadSource", Some(config_or("lead_source", "Web"))),
            ("Status", Some(config_or("status", "Open - Not Contacted"))),
        ];
        let mut body = String::from("<urn:create><urn:sObjects><urn1:type>Lead</urn1:type>");
        for (name, value) in fields {
            if let Some(value) = value {
                body.push_str(&format!("<{name}>{}</{name}>", soap::escape(&value)));
            }
        }
        body.push_str("</urn:sObjects></urn:create>");

        let xml = soap::call(Api::SoapPartner, &body)?;
        let result = soap::save_results(&xml)?
            .into_iter()
            .next()
            .ok_or_else(|| internal("the create call answered without a result"))?;
        let id = result.into_id()?;
        log(Level::Info, &format!("created Lead {id}"));
        Ok(json_response(201, &json!({ "id": id })))
    }
}

/// The trimmed value, `None` when absent or blank.
fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// A plausible address: one `@`, a local part, a dotted domain, no spaces.
fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    let labels_ok = domain.split('.').count() >= 2 && domain.split('.').all(|l| !l.is_empty());
    !local.is_empty()
        && labels_ok
        && !domain.contains('@')
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"".contains(c))
}

twoway_plugin::export!(LeadIntake);
