//! Front-door policies, as real components built from source (the Rust
//! examples in plugins/policies, the JavaScript `audit` by
//! scripts/build-js-plugins): loaded for the world `policy` by the plugin
//! runtime, run in a fresh instance per request (its answer judged in the
//! same instance) as existing clients send them. A workflow is refused as a policy and a policy as a
//! workflow, each with the world it must be of.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use twoway::config::{Auth, PluginLimits};
use twoway::plugin::{
    CallContext, FrontRequest, FrontResponse, Header, PolicyCall, RequestDecision,
    ResponseDecision, Runtime, Version, World,
};
use twoway::secret::Secret;
use twoway::upstream::TenantUpstream;
use twoway_tests::plugins::{GET_USER_INFO, MASK_FIELDS, READ_ONLY, WIT_0_3_0};

fn limits() -> PluginLimits {
    PluginLimits {
        memory_bytes: 64 * 1024 * 1024,
        timeout: Duration::from_secs(10),
        max_output_bytes: 1024 * 1024,
    }
}

fn load(runtime: &Runtime, path: &str, world: World) -> Result<Version, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let id = twoway::plugin::version_id(&bytes);
    runtime
        .load(Path::new(path), &bytes, id, world)
        .map_err(|e| e.to_string())
}

/// The call context of tenant `acme` with the policy's `config`; the
/// upstream is real and never called (a policy makes no API calls).
fn call(config: &[(&str, &str)]) -> CallContext {
    let settings = twoway::upstream::Settings {
        tenant: "acme".into(),
        identity: None,
        extra_roots: Vec::new(),
        mutual_auth: false,
        mutual_auth_port: 8443,
        transport: twoway::config::Upstream {
            connect_timeout: Duration::from_secs(1),
            handshake_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(1),
            max_response_bytes: 1 << 20,
            pool_idle_timeout: Duration::from_secs(1),
            pool_max_idle_per_host: 1,
        },
        proxy: None,
        session: twoway::session::SessionSettings {
            tenant: "acme".into(),
            login_url: "https://127.0.0.1:9".parse().unwrap(),
            api_version: "62.0".into(),
            auth: Auth::SoapLogin {
                username: "u".into(),
                password: Secret::new("p"),
                security_token: None,
            },
            session_seconds: 60,
            login_timeout: Duration::from_secs(1),
            login_budget_per_hour: 1,
        },
        api_budget: Default::default(),
    };
    twoway::plugin::CallContext {
        tenant: "acme".into(),
        workflow: twoway::plugin::POLICY_SLOT.into(),
        version: "test".into(),
        upstream: Arc::new(TenantUpstream::new(settings).expect("an upstream")),
        config: Arc::new(
            config
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}

/// A request and the operation the front door would tell the policy.
struct Judged {
    request: FrontRequest,
    operation: Option<String>,
}

/// A SOAP request of `operation`, as the front door hands it to a policy.
fn soap(api: twoway::plugin::Api, path: &str, operation: &str) -> Judged {
    Judged {
        request: request(api, "POST", path, &envelope(operation)),
        operation: Some(operation.into()),
    }
}

/// A request whose operation the front door names `operation` (a REST
/// resource) or does not name.
fn other(
    api: twoway::plugin::Api,
    method: &str,
    path: &str,
    body: &str,
    operation: Option<&str>,
) -> Judged {
    Judged {
        request: request(api, method, path, body),
        operation: operation.map(Into::into),
    }
}

/// The policy's decision on `judged`, and its instance when it judges the
/// answer too.
async fn on_request(
    runtime: &Runtime,
    policy: &Version,
    call: CallContext,
    judged: &Judged,
) -> (RequestDecision, Option<PolicyCall>) {
    runtime
        .on_request(
            policy,
            call,
            limits(),
            &judged.request,
            judged.operation.clone(),
        )
        .await
        .expect("the policy runs")
}

/// The policy's decision on `response` to `request`, in the instance that
/// passed the request.
async fn on_response(
    runtime: &Runtime,
    policy: &Version,
    call: CallContext,
    request: &Judged,
    response: &FrontResponse,
) -> ResponseDecision {
    let (decision, kept) = on_request(runtime, policy, call, request).await;
    assert_eq!(decision, RequestDecision::Pass);
    let kept = kept.expect("the policy judges answers: its instance is kept");
    runtime
        .on_response(kept, &request.request, response)
        .await
        .expect("the policy runs")
}

fn request(api: twoway::plugin::Api, method: &str, path: &str, body: &str) -> FrontRequest {
    FrontRequest {
        api,
        method: method.into(),
        path: path.into(),
        query: String::new(),
        headers: vec![Header {
            name: "content-type".into(),
            value: "text/xml; charset=UTF-8".into(),
        }],
        body: body.as_bytes().to_vec(),
    }
}

fn envelope(operation: &str) -> String {
    format!(
        r#"<se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/"><se:Header><SessionHeader xmlns="urn:partner.soap.sforce.com"><sessionId>gone</sessionId></SessionHeader></se:Header><se:Body><{operation} xmlns="urn:partner.soap.sforce.com"/></se:Body></se:Envelope>"#
    )
}

fn runtime() -> (tempfile::TempDir, Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(&dir.path().join("cache")).expect("runtime");
    (dir, runtime)
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_lets_reads_through_and_refuses_every_kind_of_write() {
    use twoway::plugin::Api;
    let (_dir, runtime) = runtime();
    let policy = load(&runtime, READ_ONLY, World::Policy).expect("read-only loads as a policy");
    let reads = [
        soap(Api::SoapPartner, "/services/Soap/u/62.0", "query"),
        soap(Api::SoapPartner, "/services/Soap/u/62.0", "getUserInfo"),
        other(
            Api::Rest,
            "GET",
            "/services/data/v62.0/query",
            "",
            Some("query"),
        ),
        other(
            Api::Rest,
            "POST",
            "/services/data/v62.0/jobs/query",
            "{}",
            Some("jobs"),
        ),
        other(
            Api::Bulk,
            "POST",
            "/services/async/62.0/job",
            r#"{"operation":"query","object":"Account","contentType":"JSON"}"#,
            None,
        ),
    ];
    for r in reads {
        let (decision, kept) = on_request(&runtime, &policy, call(&[]), &r).await;
        let r = &r.request;
        assert_eq!(decision, RequestDecision::Pass, "{} {}", r.method, r.path);
        assert!(
            kept.is_none(),
            "read-only skips the answer, so its instance ends with the request hook"
        );
    }
    let writes = [
        (
            soap(Api::SoapPartner, "/services/Soap/u/62.0", "create"),
            "create",
        ),
        (
            soap(Api::SoapEnterprise, "/services/Soap/c/62.0", "delete"),
            "delete",
        ),
        (
            other(
                Api::Rest,
                "PATCH",
                "/services/data/v62.0/sobjects/Account/001",
                "{}",
                Some("sobjects"),
            ),
            "PATCH",
        ),
        (
            other(
                Api::Rest,
                "POST",
                "/services/data/v62.0/composite/sobjects",
                "{}",
                Some("composite"),
            ),
            "POST",
        ),
        (
            other(
                Api::Bulk,
                "POST",
                "/services/async/62.0/job",
                r#"{"operation":"insert","object":"Account","contentType":"JSON"}"#,
                None,
            ),
            "Bulk",
        ),
        (
            soap(Api::SoapMetadata, "/services/Soap/m/62.0", "deploy"),
            "Metadata",
        ),
    ];
    for (r, named) in writes {
        let (decision, _) = on_request(&runtime, &policy, call(&[]), &r).await;
        let r = &r.request;
        assert!(
            matches!(&decision, RequestDecision::Refuse(why) if why.contains("read-only") && why.contains(named)),
            "{} {}: {decision:?}",
            r.method,
            r.path
        );
    }
    // The operation the host names is what counts (the policy does not read
    // the envelope): a `create` envelope the host calls `query` passes.
    let told = Judged {
        operation: Some("query".into()),
        ..soap(Api::SoapPartner, "/services/Soap/u/62.0", "create")
    };
    let (decision, _) = on_request(&runtime, &policy, call(&[]), &told).await;
    assert_eq!(decision, RequestDecision::Pass);
    // `allow` adds operations.
    let convert = soap(Api::SoapPartner, "/services/Soap/u/62.0", "convertLead");
    let (decision, _) = on_request(
        &runtime,
        &policy,
        call(&[("allow", "convertLead")]),
        &convert,
    )
    .await;
    assert_eq!(decision, RequestDecision::Pass);
}

#[tokio::test(flavor = "multi_thread")]
async fn mask_fields_masks_configured_fields_in_json_and_soap_answers() {
    use twoway::plugin::Api;
    let (_dir, runtime) = runtime();
    let policy = load(&runtime, MASK_FIELDS, World::Policy).expect("mask-fields loads");
    let config = [("fields", "SSN__c, Phone")];
    let query = other(
        Api::Rest,
        "GET",
        "/services/data/v62.0/query",
        "",
        Some("query"),
    );
    let json = FrontResponse {
        status: 200,
        headers: vec![Header {
            name: "content-type".into(),
            value: "application/json;charset=UTF-8".into(),
        }],
        body: br#"{"totalSize":1,"done":true,"records":[{"attributes":{"type":"Contact"},"Name":"Wile","Phone":"555-0100","SSN__c":"078-05-1120","Account":{"Phone":"555-0199"}}]}"#.to_vec(),
    };
    let decision = on_response(&runtime, &policy, call(&config), &query, &json).await;
    let ResponseDecision::Change(masked) = decision else {
        panic!("the answer is changed: {decision:?}")
    };
    let body: serde_json::Value = serde_json::from_slice(&masked.body).unwrap();
    let record = &body["records"][0];
    assert_eq!(record["Name"], "Wile");
    assert_eq!(record["Phone"], "****");
    assert_eq!(record["SSN__c"], "****");
    assert_eq!(record["Account"]["Phone"], "****", "parent fields too");
    assert!(!String::from_utf8_lossy(&masked.body).contains("078-05-1120"));

    let soap = FrontResponse {
        status: 200,
        headers: vec![Header {
            name: "content-type".into(),
            value: "text/xml;charset=UTF-8".into(),
        }],
        body: br#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:sobject.partner.soap.sforce.com"><soapenv:Body><queryResponse><result><records><sf:Name>Wile</sf:Name><sf:Phone>555-0100</sf:Phone></records></result></queryResponse></soapenv:Body></soapenv:Envelope>"#.to_vec(),
    };
    let decision = on_response(&runtime, &policy, call(&config), &query, &soap).await;
    let ResponseDecision::Change(masked) = decision else {
        panic!("the SOAP answer is changed: {decision:?}")
    };
    let text = String::from_utf8(masked.body).unwrap();
    assert!(
        text.contains("<sf:Phone>****</sf:Phone>") && text.contains("<sf:Name>Wile</sf:Name>"),
        "{text}"
    );

    // Nothing to mask: the answer passes as it is.
    let plain = FrontResponse {
        body: br#"{"records":[{"Name":"Wile"}]}"#.to_vec(),
        ..json
    };
    let decision = on_response(&runtime, &policy, call(&config), &query, &plain).await;
    assert_eq!(decision, ResponseDecision::Pass);
}

#[tokio::test(flavor = "multi_thread")]
async fn each_component_loads_only_for_its_own_world() {
    let (_dir, runtime) = runtime();
    let e = load(&runtime, GET_USER_INFO, World::Policy)
        .err()
        .expect("a workflow is no policy");
    assert!(e.contains("twoway:gateway/policy"), "{e}");
    let e = load(&runtime, READ_ONLY, World::Workflow)
        .err()
        .expect("a policy is no workflow");
    assert!(e.contains("twoway:gateway/workflow"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_javascript_audit_policy_passes_everything() {
    use twoway::plugin::Api;
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/plugins-js/audit.wasm");
    if !path.is_file() {
        if std::env::var("TWOWAY_REQUIRE_JS").is_ok_and(|v| v == "1") {
            panic!(
                "{} is missing and TWOWAY_REQUIRE_JS=1: build it with scripts/build-js-plugins",
                path.display()
            );
        }
        eprintln!(
            "note: skipped, {} is not built (scripts/build-js-plugins)",
            path.display()
        );
        return;
    }
    let (_dir, runtime) = runtime();
    let policy = load(&runtime, &path.display().to_string(), World::Policy).expect("audit loads");
    let create = soap(Api::SoapPartner, "/services/Soap/u/62.0", "create");
    let answer = FrontResponse {
        status: 200,
        headers: Vec::new(),
        body: Vec::new(),
    };
    let decision = on_response(&runtime, &policy, call(&[]), &create, &answer).await;
    assert_eq!(decision, ResponseDecision::Pass);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_built_against_wit_0_3_0_still_loads_and_judges_both_hooks() {
    use twoway::plugin::Api;
    let (_dir, runtime) = runtime();
    let policy = load(&runtime, WIT_0_3_0, World::Policy).expect("a 0.3.0 policy loads");
    let delete = other(
        Api::Rest,
        "DELETE",
        "/services/data/v62.0/sobjects/Account/001",
        "",
        Some("sobjects"),
    );
    let (decision, _) = on_request(&runtime, &policy, call(&[]), &delete).await;
    assert!(
        matches!(&decision, RequestDecision::Refuse(why) if why.contains("0.3.0")),
        "{decision:?}"
    );
    let get = other(
        Api::Rest,
        "GET",
        "/services/data/v62.0/sobjects/Account/001",
        "",
        Some("sobjects"),
    );
    let answer = FrontResponse {
        status: 200,
        headers: Vec::new(),
        body: b"{}".to_vec(),
    };
    let decision = on_response(&runtime, &policy, call(&[]), &get, &answer).await;
    assert_eq!(decision, ResponseDecision::Pass);
}
