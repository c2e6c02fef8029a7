//! The test tenants as twoway.toml tables: `acme` (SOAP login) and
//! `globex` (OAuth client credentials), both with mutual TLS from the test
//! PKI, and the secret files they name. Placeholders (`{login_url}`,
//! `{mutual_port}`, `{pki}`) are filled in by whoever writes the config.

/// The acme integration user (the simulator knows it).
pub const ACME_USER: &str = "integration@acme.example";
/// The acme user's password and security token.
pub const ACME_PASSWORD: &str = "acme-password";
pub const ACME_TOKEN: &str = "ACMETOKEN";
/// The API key acme's callers send.
pub const ACME_API_KEY: &str = "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d";

/// Tenant `acme`: SOAP login as [`ACME_USER`], mutual TLS with
/// fullcert.pem, API key [`ACME_API_KEY`].
pub const ACME: &str = r#"
[[tenant]]
name = "acme"
api_keys_file = "acme-keys.txt"
login_url = "{login_url}"
mutual_auth = true
mutual_auth_port = {mutual_port}
client_identity = { pem = "{pki}/fullcert.pem" }
extra_roots = ["{pki}/root-ca.pem"]
[tenant.auth]
kind = "soap-login"
username = "integration@acme.example"
password_file = "acme-sf-pw.txt"
security_token_file = "acme-sf-token.txt"
"#;

/// Tenant `globex`: OAuth client credentials, mutual TLS with fullcert-b.pem,
/// API key `globex-key-1-3c7e0a5f9b2d6e1a4c8f0b7d`.
pub const GLOBEX: &str = r#"
[[tenant]]
name = "globex"
api_keys_file = "globex-keys.txt"
login_url = "{login_url}"
mutual_auth = true
mutual_auth_port = {mutual_port}
client_identity = { pem = "{pki}/fullcert-b.pem" }
extra_roots = ["{pki}/root-ca.pem"]
[tenant.auth]
kind = "oauth-client-credentials"
client_id = "globex-connected-app"
client_secret_file = "globex-oauth.txt"
"#;

/// The secret files every test config can use, and their contents.
pub const SECRETS: &[(&str, &str)] = &[
    ("acme-keys.txt", ACME_API_KEY),
    ("acme-sf-pw.txt", ACME_PASSWORD),
    ("acme-sf-token.txt", ACME_TOKEN),
    ("globex-keys.txt", "globex-key-1-3c7e0a5f9b2d6e1a4c8f0b7d"),
    ("globex-oauth.txt", "globex-client-secret"),
];

/// `tenant` with a workflow `name` running the plugin file `file`, and
/// `extra` lines (e.g. `timeout_ms = 4000`) in the workflow's table.
pub fn with_workflow(tenant: &str, name: &str, file: &str, extra: &str) -> String {
    format!("{tenant}[[tenant.workflow]]\nname = \"{name}\"\nplugin = \"{file}\"\n{extra}\n")
}

/// `tenant` with `keys` (TOML lines of the tenant's table) added before its
/// `[tenant.auth]` table.
pub fn tenant_with(tenant: &str, keys: &str) -> String {
    tenant.replace("[tenant.auth]", &format!("{keys}\n[tenant.auth]"))
}
