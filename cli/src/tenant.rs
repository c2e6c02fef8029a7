//! `twoway login` and `twoway call`: a tenant's session and API calls from
//! the command line, built exactly as `twoway serve` builds them. With
//! `--json`, stdout is one JSON object (for jq); `call` always writes its
//! status line to stderr so that stdout is the body alone.

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};

use super::exit::CliError;
use super::request::{self, RequestArgs};
use twoway::config;
use twoway::salesforce::Api;
use twoway::upstream::{Outbound, TenantUpstream};

#[derive(Debug, clap::Args)]
pub struct TenantArgs {
    /// The gateway config (twoway.toml).
    #[arg(long, env = "TWOWAY_CONFIG")]
    pub config: PathBuf,
    /// The tenant's name in it.
    #[arg(long)]
    pub tenant: String,
}

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    #[command(flatten)]
    pub tenant: TenantArgs,
    /// Print the result as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct CallArgs {
    #[command(flatten)]
    pub tenant: TenantArgs,
    /// Which API: the host adds its base path and the session.
    #[arg(long, value_parser = api_parser())]
    pub api: Api,
    /// Path relative to the API's base (e.g. `query?q=SELECT+Id+FROM+Account` for rest).
    #[arg(long, default_value = "")]
    pub path: String,
    #[command(flatten)]
    pub request: RequestArgs,
}

/// `--api` values: the names of [`Api::ALL`].
fn api_parser() -> impl TypedValueParser<Value = Api> {
    PossibleValuesParser::new(Api::ALL.map(Api::name)).try_map(|s| s.parse::<Api>())
}

fn tenant_upstream(args: &TenantArgs) -> anyhow::Result<TenantUpstream> {
    let config = config::load(&args.config)?;
    let tenant = find_tenant(&config, args)?;
    upstream_of(&config, tenant)
}

/// The tenant `args` names in `config`, or a config error listing the tenants.
pub(crate) fn find_tenant<'a>(
    config: &'a config::Config,
    args: &TenantArgs,
) -> Result<&'a config::Tenant, CliError> {
    config.tenant(&args.tenant).ok_or_else(|| {
        let names: Vec<_> = config.tenants.iter().map(|t| t.name.as_str()).collect();
        CliError::Config(format!(
            "no tenant {:?} in {} (tenants: {})",
            args.tenant,
            args.config.display(),
            names.join(", ")
        ))
    })
}

/// The tenant's way to the API, built exactly as `twoway serve` builds it:
/// `twoway login` logs in as the gateway would.
pub(crate) fn upstream_of(
    config: &config::Config,
    tenant: &config::Tenant,
) -> anyhow::Result<TenantUpstream> {
    Ok(TenantUpstream::new(twoway::gateway::upstream_settings(
        tenant,
        &config.upstream,
    ))?)
}

pub async fn run_login(args: LoginArgs) -> anyhow::Result<()> {
    let upstream = std::sync::Arc::new(tenant_upstream(&args.tenant)?);
    let session = upstream.sessions().session().await?;
    // One getUserInfo proves the session works where the API is (mutual TLS
    // included) and tells the API usage.
    let check = Outbound {
        api: Api::SoapPartner,
        method: http::Method::POST,
        path: String::new(),
        headers: soap_headers(),
        body: bytes::Bytes::from_static(GET_USER_INFO.as_bytes()),
    };
    let answer = upstream.send(check).await?;
    if answer.status != 200 {
        eprintln!(
            "getUserInfo answered HTTP {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
        return Err(CliError::HttpStatus(answer.status).into());
    }
    let tenant = upstream.settings();
    let expires = time::OffsetDateTime::from(session.expires_at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let usage = upstream.usage();
    let (used, limit) = (usage.used, usage.limit);
    let now = time::OffsetDateTime::now_utc();
    if args.json {
        let certificate = upstream.identity().map(|id| {
            serde_json::json!({
                "subject": id.leaf.subject,
                "sha256": id.leaf.sha256_fingerprint,
                "days_to_expiry": id.days_to_expiry(now),
            })
        });
        let out = serde_json::json!({
            "tenant": tenant.tenant,
            "auth": tenant.session.auth.kind(),
            "org_id": session.instance.org_id,
            "user_id": session.user_id,
            "instance": session.instance.base_url.to_string(),
            "mutual_auth_port": tenant.mutual_auth.then_some(tenant.mutual_auth_port),
            "expires": expires,
            "certificate": certificate,
            "api_usage": { "used": used, "limit": limit },
        });
        println!("{out}");
        return Ok(());
    }
    println!("tenant        {}", tenant.tenant);
    println!("auth          {}", tenant.session.auth.kind());
    println!("org id        {}", session.instance.org_id);
    println!("user id       {}", session.user_id);
    println!("instance      {}", session.instance.base_url);
    if tenant.mutual_auth {
        println!(
            "API calls go  to port {} (mutual TLS)",
            tenant.mutual_auth_port
        );
    }
    println!("expires       {expires}");
    if let Some(id) = upstream.identity() {
        println!(
            "certificate   {} (expires in {} days, SHA-256 {})",
            id.leaf.subject,
            id.days_to_expiry(now),
            id.leaf.sha256_fingerprint
        );
    }
    println!("API usage     {used}/{limit} requests today");
    Ok(())
}

const GET_USER_INFO: &str = r#"<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com"><soapenv:Body><urn:getUserInfo/></soapenv:Body></soapenv:Envelope>"#;

fn soap_headers() -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/xml; charset=UTF-8"),
    );
    headers.insert("soapaction", http::HeaderValue::from_static("\"\""));
    headers
}

/// The request `args` describe (body, headers, method), or a usage error.
fn outbound(args: &CallArgs) -> Result<Outbound, CliError> {
    let api = args.api;
    let body = args.request.body()?;
    let mut headers = match api {
        Api::SoapPartner | Api::SoapEnterprise | Api::SoapMetadata => soap_headers(),
        _ => {
            let mut h = http::HeaderMap::new();
            if !body.is_empty() {
                h.insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
            }
            h
        }
    };
    for (name, value) in args.request.headers()? {
        headers.insert(name, value);
    }
    Ok(Outbound {
        api,
        method: args.request.method()?,
        path: args.path.clone(),
        headers,
        body: body.into(),
    })
}

pub async fn run_call(args: CallArgs) -> anyhow::Result<()> {
    let out = outbound(&args)?;
    let upstream = std::sync::Arc::new(tenant_upstream(&args.tenant)?);
    let answer = upstream.send(out).await?;
    request::print_answer(
        &format!("HTTP {}", answer.status),
        answer.status,
        answer
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_bytes())),
        &answer.body,
        args.request.json,
    )
}
