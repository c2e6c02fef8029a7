//! The identity URL `/id/{orgId}/{userId}` that login and OAuth return, and
//! OpenID Connect's `/services/oauth2/userinfo`: who the session's user is,
//! with the org's URLs (`{version}` left in them, as Salesforce does).

use serde_json::{Value, json};

use super::reply::Reply;
use super::state::Session;
use super::{Call, Denied, ids, rest};

/// The token of `Authorization: Bearer` or of `?oauth_token=`.
fn token(call: &Call<'_>) -> Option<String> {
    rest::bearer(call).or_else(|| call.query_param("oauth_token"))
}

/// Identity answers refusals in plain text, not in REST's error arrays.
fn refused(text: &str) -> Reply {
    Reply::text(403, text)
}

fn authorize(call: &Call<'_>) -> Result<Session, Reply> {
    match call.authorize(token(call).as_deref()) {
        Ok((session, _)) => Ok(session),
        Err(Denied::InvalidSession) => Err(refused("Bad_OAuth_Token")),
        Err(d) => Err(rest::denied(d)),
    }
}

/// `GET /id/{orgId}/{userId}` (15- or 18-character ids).
pub fn id(call: &Call<'_>) -> Reply {
    let session = match authorize(call) {
        Ok(s) => s,
        Err(reply) => return reply,
    };
    let mut parts = call
        .path
        .trim_start_matches("/id/")
        .trim_end_matches('/')
        .split('/');
    let (Some(org), Some(user), None) = (parts.next(), parts.next(), parts.next()) else {
        return refused("Bad_Id");
    };
    let org_matches = org.get(..15).is_some_and(|o| o == session.org_id);
    let user = call.ctx.state.org(&session.org_id).and_then(|o| {
        o.users
            .iter()
            .find(|u| u.id == user || (user.len() == 15 && u.id.starts_with(user)))
    });
    match (org_matches, user) {
        (true, Some(user)) => Reply::json(200, &identity(call, &session, user)),
        _ => refused("Bad_Id"),
    }
}

/// `GET /services/oauth2/userinfo`: the session's user, as OpenID Connect claims.
pub fn userinfo(call: &Call<'_>) -> Reply {
    let session = match authorize(call) {
        Ok(s) => s,
        Err(reply) => return reply,
    };
    let who = identity(call, &session, &session.user);
    Reply::json(
        200,
        &json!({
            "sub": who["id"],
            "user_id": who["user_id"],
            "organization_id": who["organization_id"],
            "preferred_username": who["username"],
            "nickname": who["nick_name"],
            "name": who["display_name"],
            "email": who["email"],
            "email_verified": true,
            "given_name": who["first_name"],
            "family_name": who["last_name"],
            "zoneinfo": "America/Chicago",
            "photos": who["photos"],
            "profile": format!("{}/{}", call.ctx.endpoints.standard_url(), session.user.id),
            "picture": who["photos"]["picture"],
            "address": { "country": "US" },
            "urls": who["urls"],
            "active": true,
            "user_type": "STANDARD",
            "language": "en_US",
            "locale": "en_US",
            "utcOffset": -21600000,
            "updated_at": "2024-01-01T00:00:00Z",
            "is_app_installed": true,
        }),
    )
}

fn identity(call: &Call<'_>, session: &Session, user: &super::config::User) -> Value {
    let login = call.ctx.endpoints.login_url();
    let instance = call.ctx.endpoints.standard_url();
    let org = ids::to_18(&session.org_id);
    let (first, last) = match user.full_name.rsplit_once(' ') {
        Some((f, l)) => (Value::from(f), l.to_string()),
        None => (Value::Null, user.full_name.clone()),
    };
    let data = format!("{instance}/services/data/v{{version}}");
    json!({
        "id": format!("{login}/id/{org}/{}", user.id),
        "asserted_user": user.id == session.user.id,
        "user_id": user.id,
        "organization_id": org,
        "username": user.username,
        "nick_name": user.username.split('@').next().unwrap_or(""),
        "display_name": user.full_name,
        "email": user.email,
        "email_verified": true,
        "first_name": first,
        "last_name": last,
        "timezone": "America/Chicago",
        "photos": {
            "picture": format!("{instance}/profilephoto/005/F"),
            "thumbnail": format!("{instance}/profilephoto/005/T"),
        },
        "addr_street": null, "addr_city": null, "addr_state": null, "addr_country": "US", "addr_zip": null,
        "mobile_phone": null, "mobile_phone_verified": false,
        "is_lightning_login_user": false,
        "status": { "created_date": null, "body": null },
        "urls": {
            "enterprise": format!("{instance}/services/Soap/c/{{version}}/{org}"),
            "metadata": format!("{instance}/services/Soap/m/{{version}}/{org}"),
            "partner": format!("{instance}/services/Soap/u/{{version}}/{org}"),
            "rest": format!("{data}/"),
            "sobjects": format!("{data}/sobjects/"),
            "search": format!("{data}/search/"),
            "query": format!("{data}/query/"),
            "recent": format!("{data}/recent/"),
            "tooling_soap": format!("{instance}/services/Soap/T/{{version}}/{org}"),
            "tooling_rest": format!("{data}/tooling/"),
            "profile": format!("{instance}/{}", user.id),
            "feeds": format!("{data}/chatter/feeds"),
            "groups": format!("{data}/chatter/groups"),
            "users": format!("{data}/chatter/users"),
            "feed_items": format!("{data}/chatter/feed-items"),
            "feed_elements": format!("{data}/chatter/feed-elements"),
            "custom_domain": instance,
        },
        "active": true,
        "user_type": "STANDARD",
        "language": "en_US",
        "locale": "en_US",
        "utcOffset": -21600000,
        "last_modified_date": "2024-01-01T00:00:00.000+0000",
        "is_app_installed": true,
    })
}
