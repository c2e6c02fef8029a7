//! What the fleet tests share: gateways whose tenant `acme` has the `user`
//! workflow (get_user_info) on a given `[store]`, with the session layer's
//! log lines shown on failure (why an instance fell back, say), and the
//! simulator's login count.

use twoway_sim::Sim;

use crate::gateway::TestGateway;
use crate::plugins::GET_USER_INFO;

/// Acme's API key.
pub const KEY: Option<&str> = Some("acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d");
/// Acme's `user` workflow.
pub const PATH: &str = "/tenants/acme/workflows/user";

/// The `user` workflow of the last tenant in a config.
pub const USER_WORKFLOW: &str =
    "[[tenant.workflow]]\nname = \"user\"\nplugin = \"get_user_info.wasm\"\ntimeout_ms = 60000\n";

/// What must never be in Redis or its messages: a sealed session's
/// marker, the password and token, the caller key, the encryption key,
/// the org id (which prefixes every session id).
pub const SECRETS: [&str; 6] = [
    "!AQ",
    "acme-password",
    "ACMETOKEN",
    "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d",
    crate::redis_server::ENCRYPTION_KEY,
    "00D5g000004Acme",
];

/// A gateway of `config` (holding [`USER_WORKFLOW`]).
pub async fn gateway(sim: &Sim, config: &str) -> TestGateway {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "twoway=warn,twoway::session=info",
        ))
        .with_test_writer()
        .with_ansi(false)
        .try_init();
    TestGateway::start(sim, config, &[("get_user_info.wasm", GET_USER_INFO)]).await
}

/// Logins the simulator has served.
pub async fn logins(sim: &Sim) -> u64 {
    crate::admin_get(sim, "/counters").await["logins"]
        .as_u64()
        .expect("logins counter")
}
