//! What the criterion benches share: a loaded one-tenant config.

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
