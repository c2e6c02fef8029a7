//! `[tenant.auth]`: the login strategy and its keys.

use super::*;

impl Checker<'_> {
    pub(super) fn auth(
        &mut self,
        key: &str,
        a: RawAuth,
        login_url: Option<&http::Uri>,
    ) -> Option<Auth> {
        let need = |c: &mut Self, field: &str, v: Option<String>| {
            if v.is_none() {
                c.problem(
                    &format!("{key}.{field}"),
                    format!("required for kind = \"{}\"", a.kind),
                );
            }
            v
        };
        let password = |c: &mut Self| {
            c.secret(
                &format!("{key}.password"),
                a.password_env.as_deref(),
                a.password_file.as_deref(),
                true,
            )
        };
        let token = |c: &mut Self| {
            c.secret(
                &format!("{key}.security_token"),
                a.security_token_env.as_deref(),
                a.security_token_file.as_deref(),
                false,
            )
        };
        let client_secret = |c: &mut Self| {
            c.secret(
                &format!("{key}.client_secret"),
                a.client_secret_env.as_deref(),
                a.client_secret_file.as_deref(),
                true,
            )
        };
        match a.kind.as_str() {
            "soap-login" => {
                let username = need(self, "username", a.username.clone());
                let password = password(self);
                let security_token = token(self);
                Some(Auth::SoapLogin {
                    username: username?,
                    password: password?,
                    security_token,
                })
            }
            "oauth-password" => {
                let client_id = need(self, "client_id", a.client_id.clone());
                let username = need(self, "username", a.username.clone());
                let client_secret = client_secret(self);
                let password = password(self);
                let security_token = token(self);
                Some(Auth::OAuthPassword {
                    client_id: client_id?,
                    client_secret: client_secret?,
                    username: username?,
                    password: password?,
                    security_token,
                })
            }
            "oauth-client-credentials" => {
                let client_id = need(self, "client_id", a.client_id.clone());
                let client_secret = client_secret(self);
                Some(Auth::OAuthClientCredentials {
                    client_id: client_id?,
                    client_secret: client_secret?,
                })
            }
            "oauth-jwt-bearer" => {
                let client_id = need(self, "client_id", a.client_id.clone());
                let username = need(self, "username", a.username.clone());
                let private_key = self.secret(
                    &format!("{key}.private_key"),
                    a.private_key_env.as_deref(),
                    a.private_key_file.as_deref(),
                    true,
                );
                let audience = a
                    .audience
                    .clone()
                    .unwrap_or_else(|| default_audience(login_url));
                Some(Auth::OAuthJwtBearer {
                    client_id: client_id?,
                    username: username?,
                    private_key: private_key?,
                    audience,
                })
            }
            _ => {
                self.problem(
                    &format!("{key}.kind"),
                    "is not one of soap-login, oauth-client-credentials, oauth-jwt-bearer, oauth-password (the value is not shown: it may be a secret pasted in the wrong place)".to_string(),
                );
                None
            }
        }
    }
}

/// Salesforce wants `https://test.salesforce.com` for sandboxes and
/// `https://login.salesforce.com` otherwise, whatever URL the token is posted to.
fn default_audience(login_url: Option<&http::Uri>) -> String {
    let host = login_url.and_then(|u| u.host()).unwrap_or("");
    if host == "test.salesforce.com" || host.ends_with(".sandbox.my.salesforce.com") {
        "https://test.salesforce.com".into()
    } else {
        "https://login.salesforce.com".into()
    }
}
