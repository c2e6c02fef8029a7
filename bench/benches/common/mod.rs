//! What the benches share: a loaded one-tenant config, and the request
//! soql-query refuses before any upstream call (also used by
//! `twoway-bench plugin-calls`, bench/src/calls.rs).

use std::path::Path;

/// A twoway.toml with one tenant, loaded.
pub fn config(dir: &Path) -> twoway::config::Config {
    std::fs::write(dir.join("password.txt"), "unused").expect("password file");
    let toml = r#"[[tenant]]
name = "acme"
login_url = "https://127.0.0.1:9"
[tenant.auth]
kind = "soap-login"
username = "integration@acme.example"
password_file = "password.txt"
"#;
    std::fs::write(dir.join("twoway.toml"), toml).expect("config file");
    twoway::config::load(&dir.join("twoway.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// `?q=` with a blank query: soql-query (Rust, JavaScript, Python) answers
/// 400 before any upstream call, so a call costs the runtime, not the API.
#[allow(dead_code, reason = "the micro benches call version-a instead")]
pub fn refused_request() -> twoway::plugin::InboundRequest {
    twoway::plugin::InboundRequest {
        method: "GET".into(),
        path: "/".into(),
        query: "q=+".into(),
        headers: Vec::new(),
        body: Vec::new(),
    }
}

/// Tenant `acme`'s call of soql-query `version`, on `upstream`.
#[allow(dead_code, reason = "the micro benches call version-a instead")]
pub fn soql_call(
    version: &twoway::plugin::Version,
    upstream: std::sync::Arc<twoway::upstream::TenantUpstream>,
) -> twoway::plugin::CallContext {
    twoway::plugin::CallContext {
        tenant: "acme".into(),
        workflow: "soql-query".into(),
        version: version.id.clone(),
        upstream,
        config: std::sync::Arc::new(Default::default()),
    }
}
