//! Micro benchmarks (criterion): a plugin instantiated from its cached
//! InstancePre and called, SOAP session injection, the front door's read
//! of a SOAP envelope (one pass and tree), fault classification,
//! login response parsing, and the bounded XML parse on the worst inputs
//! within the caps (`cargo bench -p twoway-bench --bench micro -- xml`).
//! `cargo bench -p twoway-bench`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use twoway::plugin::{CallContext, InboundRequest, Runtime};
use twoway::salesforce::{self, Api};
use twoway::secret::Secret;
use twoway::upstream::TenantUpstream;
use twoway_testkit::samples::{LOGIN_RESPONSE, MUTUAL_AUTH_FAILED};

mod common;
use common::config;

/// A getUserInfo answer as the simulator writes it (LimitInfoHeader, full userInfo), HTTP 200.
const GET_USER_INFO_RESPONSE: &str = r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" xmlns:sf="urn:sobject.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Header><LimitInfoHeader><limitInfo><current>6</current><limit>15000</limit><type>API REQUESTS</type></limitInfo></LimitInfoHeader></soapenv:Header><soapenv:Body><getUserInfoResponse><result><accessibilityMode>false</accessibilityMode><currencySymbol>$</currencySymbol><orgDefaultCurrencyIsoCode>USD</orgDefaultCurrencyIsoCode><organizationId>00D5g000004AcmeEAC</organizationId><organizationMultiCurrency>false</organizationMultiCurrency><organizationName>Acme</organizationName><profileId>00e5g000000AcmeAAA</profileId><roleId xsi:nil="true"/><sessionSecondsValid>7200</sessionSecondsValid><userEmail>integration@acme.example</userEmail><userFullName>Acme Integration</userFullName><userId>0055g000001AcmeAAC</userId><userLanguage>en_US</userLanguage><userLocale>en_US</userLocale><userName>integration@acme.example</userName><userTimeZone>America/Los_Angeles</userTimeZone><userType>Standard</userType><userUiSkin>Theme3</userUiSkin></result></getUserInfoResponse></soapenv:Body></soapenv:Envelope>"#;

/// The getUserInfo request a plugin writes: no session.
const GET_USER_INFO_REQUEST: &str = r#"<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com"><soapenv:Body><urn:getUserInfo/></soapenv:Body></soapenv:Envelope>"#;

/// The getUserInfo request the load generator's callers send (bench/src/env.rs).
const GET_USER_INFO_WITH_SESSION: &str = r#"<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com"><soapenv:Header><urn:SessionHeader><urn:sessionId>00DGATEWAYTOKEN!AQ0AQPpOzMoNzT8BnbFxkR5oQfVZ3Q1i0H2wY7Xk2aVmqlzZ4t0Y8b1C6d2E3f4</urn:sessionId></urn:SessionHeader></soapenv:Header><soapenv:Body><urn:getUserInfo/></soapenv:Body></soapenv:Envelope>"#;

fn plugins_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/target/wasm32-wasip2/release")
}

fn plugin(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = Runtime::new(&dir.path().join("cache")).expect("plugin runtime");
    let path = plugins_dir().join("version_a.wasm");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (cd plugins && cargo build --release --target wasm32-wasip2)",
            path.display()
        )
    });
    let version = runtime
        .load(
            &path,
            &bytes,
            twoway::plugin::version_id(&bytes),
            twoway::plugin::World::Workflow,
        )
        .expect("version-a loads");
    let config = config(dir.path());
    let limits = config.plugins.limits;
    // A real TenantUpstream; version-a never calls it.
    let settings = twoway::gateway::upstream_settings(&config.tenants[0], &config.upstream);
    let upstream = Arc::new(TenantUpstream::new(settings).expect("tenant upstream"));
    let call = CallContext {
        tenant: "acme".into(),
        workflow: "v".into(),
        version: version.id.clone(),
        upstream,
        config: Arc::new(BTreeMap::new()),
    };
    let request = InboundRequest {
        method: "GET".into(),
        path: "/".into(),
        query: String::new(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    c.bench_function(
        "plugin: instantiate version-a from InstancePre + call handle",
        |b| {
            b.iter(|| {
                let response = rt
                    .block_on(runtime.call(&version, call.clone(), limits, request.clone()))
                    .expect("version-a answers");
                assert_eq!(response.body, b"a");
            })
        },
    );
}

fn inject(c: &mut Criterion) {
    let session = Secret::new(
        "00D5g000004Acme!AQ0AQPpOzMoNzT8BnbFxkR5oQfVZ3Q1i0H2wY7Xk2aVmqlzZ4t0Y8b1C6d2E3f4G5h6J7k8L9m",
    );
    c.bench_function(
        "salesforce::inject: SOAP SessionHeader into getUserInfo",
        |b| {
            b.iter(|| {
                let mut headers = http::HeaderMap::new();
                headers.insert(
                    "content-type",
                    http::HeaderValue::from_static("text/xml; charset=UTF-8"),
                );
                salesforce::inject(
                    Api::SoapPartner,
                    &session,
                    &mut headers,
                    GET_USER_INFO_REQUEST.as_bytes(),
                )
                .expect("injected")
            })
        },
    );
    c.bench_function("salesforce::inject: REST Authorization: Bearer", |b| {
        b.iter(|| {
            let mut headers = http::HeaderMap::new();
            salesforce::inject(Api::Rest, &session, &mut headers, b"").expect("injected")
        })
    });
}

/// The front door's read of a client's envelope (session, operation, the
/// split for the tenant's session): in one pass, and from the bounded tree
/// it falls back to.
fn envelope(c: &mut Criterion) {
    use twoway::salesforce::Envelope;
    let body = bytes::Bytes::from_static(GET_USER_INFO_WITH_SESSION.as_bytes());
    c.bench_function(
        "salesforce::Envelope: the bench's getUserInfo, one pass",
        |b| b.iter(|| Envelope::plain(Api::SoapPartner, &body).expect("plain")),
    );
    c.bench_function("salesforce::Envelope: the bench's getUserInfo, tree", |b| {
        b.iter(|| {
            let doc = twoway::xml::parse(&body).expect("parsed");
            Envelope::of_tree(Api::SoapPartner, &body, &doc)
        })
    });
}

fn classify(c: &mut Criterion) {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "content-type",
        http::HeaderValue::from_static("text/xml;charset=UTF-8"),
    );
    let fault = salesforce::classify(
        Api::SoapPartner,
        500,
        &headers,
        MUTUAL_AUTH_FAILED.as_bytes(),
    );
    assert!(
        matches!(fault, salesforce::Outcome::MutualAuthFailed { .. }),
        "{fault:?}"
    );
    c.bench_function(
        "salesforce::classify: MUTUAL_AUTHENTICATION_FAILED fault",
        |b| {
            b.iter(|| {
                salesforce::classify(
                    Api::SoapPartner,
                    500,
                    &headers,
                    MUTUAL_AUTH_FAILED.as_bytes(),
                )
            })
        },
    );
    c.bench_function("salesforce::classify: getUserInfo success envelope", |b| {
        b.iter(|| {
            salesforce::classify(
                Api::SoapPartner,
                200,
                &headers,
                GET_USER_INFO_RESPONSE.as_bytes(),
            )
        })
    });
}

fn login(c: &mut Criterion) {
    salesforce::parse_login_response(200, LOGIN_RESPONSE.as_bytes(), "62.0").expect("login parses");
    c.bench_function("salesforce::parse_login_response", |b| {
        b.iter(|| {
            salesforce::parse_login_response(200, LOGIN_RESPONSE.as_bytes(), "62.0")
                .expect("login parses")
        })
    });
}

/// The bounded parse (`xml::parse`: the linear pre-scan, then roxmltree)
/// on the inputs of issue 10 (refused) and the worst each cap accepts.
fn xml(c: &mut Criterion) {
    use criterion::{BenchmarkId, Throughput};
    use twoway::xml;
    use twoway_testkit::hostile;

    let mib16 = 16 * 1024 * 1024;
    let cases: Vec<(&str, String, bool)> = vec![
        (
            "issue: namespace-heavy envelope",
            hostile::namespace_heavy_envelope(),
            false,
        ),
        (
            "issue: attribute-heavy envelope",
            hostile::attribute_heavy_envelope(),
            false,
        ),
        ("attributes at caps", hostile::attributes_at_caps(), true),
        ("namespaces at caps", hostile::namespaces_at_caps(), true),
        (
            "namespaces re-declared",
            hostile::namespaces_redeclared(),
            true,
        ),
        ("deep nesting at caps", hostile::deep_at_caps(), true),
        ("long names, 16 MiB", hostile::long_names(mib16), true),
        (
            "small elements at the node cap",
            hostile::many_elements(),
            true,
        ),
        (
            "query answer, 64 KiB",
            hostile::query_response(64 * 1024),
            true,
        ),
        (
            "query answer, 16 MiB",
            hostile::query_response(mib16),
            false,
        ),
    ];
    let mut group = c.benchmark_group("xml");
    group.sample_size(10);
    for (name, doc, accepted) in &cases {
        // The 16 MiB answer stops at the node cap (classify calls it a success).
        let parsed = xml::parse(doc.as_bytes());
        assert_eq!(parsed.is_ok(), *accepted, "{name}: {:?}", parsed.err());
        group.throughput(Throughput::Bytes(doc.len() as u64));
        group.bench_with_input(BenchmarkId::new("parse", name), doc, |b, doc| {
            b.iter(|| xml::parse(doc.as_bytes()).is_ok())
        });
    }
    let mut headers = http::HeaderMap::new();
    headers.insert("content-type", http::HeaderValue::from_static("text/xml"));
    for (name, doc) in [
        (
            "issue: namespace-heavy answer",
            hostile::namespace_heavy_envelope(),
        ),
        ("query answer, 16 MiB", hostile::query_response(mib16)),
    ] {
        group.throughput(Throughput::Bytes(doc.len() as u64));
        group.bench_with_input(BenchmarkId::new("classify", name), &doc, |b, doc| {
            b.iter(|| salesforce::classify(Api::SoapPartner, 200, &headers, doc.as_bytes()))
        });
    }
    group.finish();
}

criterion_group!(benches, plugin, inject, envelope, classify, login, xml);
criterion_main!(benches);
