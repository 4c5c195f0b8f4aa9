//! The fake's authentication: v1 Basic API keys, the v3 OAuth token endpoint (client
//! credentials, optional `sub`) and Bearer checks with expiry.

use std::collections::HashMap;

use base64::Engine;
use chrono::{SecondsFormat, Utc};
use rand::RngCore;
use serde_json::json;

use super::api::{Incoming, Reply};
use super::state::{State, TokenInfo};
use crate::domain::Id;
use crate::settings::ApiVersion;

/// Who is calling: the rate-limit account and, on v3, the acting user (`sub`).
pub(crate) struct Account {
    pub key: String,
    pub acting_user: Option<Id>,
}

fn basic_credentials(inc: &Incoming) -> Option<(String, String)> {
    let value = inc.authorization.as_deref()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

pub(crate) fn authenticate(
    st: &State,
    version: ApiVersion,
    inc: &Incoming,
) -> Result<Account, Reply> {
    match version {
        ApiVersion::V1 => match basic_credentials(inc) {
            Some((key, _)) if st.cfg.v1_api_keys.contains(&key) => Ok(Account {
                key: format!("v1:{key}"),
                acting_user: None,
            }),
            _ => Err(Reply::json(
                401,
                json!({"message": "Invalid Basic Auth credentials"}),
            )),
        },
        ApiVersion::V3 => {
            let token = inc
                .authorization
                .as_deref()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim);
            match token.and_then(|t| st.tokens.get(t)) {
                Some(info) if info.expires_at > Utc::now() => Ok(Account {
                    key: format!("v3:{}", info.client_id),
                    acting_user: info.sub,
                }),
                _ => Err(
                    Reply::json(401, json!({"message": "Invalid or expired access token"}))
                        .header("WWW-Authenticate", "Bearer error=\"invalid_token\""),
                ),
            }
        }
    }
}

pub(crate) fn token(st: &mut State, inc: &Incoming) -> Reply {
    if inc.method != "POST" {
        return Reply::json(405, json!({"error": "invalid_request"}));
    }
    let client = basic_credentials(inc).filter(|(id, secret)| {
        st.cfg
            .v3_clients
            .iter()
            .any(|(i, s)| i == id && s == secret)
    });
    let Some((client_id, _)) = client else {
        return Reply::json(401, json!({"error": "invalid_client"}));
    };
    let form: HashMap<String, String> = url::form_urlencoded::parse(&inc.body)
        .into_owned()
        .collect();
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return Reply::json(400, json!({"error": "unsupported_grant_type"}));
    }
    let sub = match form.get("sub").map(|s| s.trim().parse::<Id>()) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => return Reply::json(400, json!({"error": "invalid_request"})),
    };
    let mut raw = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut raw);
    let access_token = hex::encode(raw);
    let ttl = chrono::Duration::from_std(st.cfg.token_ttl).unwrap_or(chrono::Duration::hours(1));
    let expires_at = Utc::now() + ttl;
    st.tokens.insert(
        access_token.clone(),
        TokenInfo {
            client_id,
            sub,
            expires_at,
        },
    );
    Reply::json(
        200,
        json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_at": expires_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        }),
    )
}
