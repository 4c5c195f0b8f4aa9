//! The Janus meeting URL: `janus+http://host:8088/janus?room=1234[&pin=...][&display=...]`.
//!
//! The scheme says both the platform and how to reach the server (`janus+https` for TLS); the path is the
//! HTTP transport's base path; the query names the VideoRoom room (numeric, or a string for servers run with
//! `string_ids`), its PIN if it has one, and the name the bot shows in the room.

use url::Url;

use super::FeedId;

/// Where and what to join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JanusTarget {
    /// The HTTP API root (`http://host:8088/janus`): sessions are created by POSTing here.
    pub api: Url,
    pub room: FeedId,
    pub pin: Option<String>,
    /// Overrides the connector's display name for this call.
    pub display: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("not a Janus URL (janus+http:// or janus+https://)")]
    Scheme,
    #[error("the URL names no room (?room=1234)")]
    NoRoom,
    #[error("bad Janus URL: {0}")]
    Parse(String),
}

impl JanusTarget {
    pub fn parse(url: &Url) -> Result<Self, TargetError> {
        let scheme = match url.scheme() {
            "janus+http" => "http",
            "janus+https" => "https",
            _ => return Err(TargetError::Scheme),
        };
        let host = url.host_str().ok_or(TargetError::Scheme)?;
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        // `Url::set_scheme` refuses to turn a non-special scheme into http(s), so the API URL is rebuilt.
        let path = url.path().trim_end_matches('/');
        let path = if path.is_empty() { "/janus" } else { path };
        let api = Url::parse(&format!("{scheme}://{authority}{path}"))
            .map_err(|e| TargetError::Parse(e.to_string()))?;
        let (mut room, mut pin, mut display) = (None, None, None);
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                "room" => room = Some(FeedId::parse(&v)),
                "pin" => pin = Some(v.into_owned()),
                "display" => display = Some(v.into_owned()),
                _ => {}
            }
        }
        Ok(Self {
            api,
            room: room.ok_or(TargetError::NoRoom)?,
            pin,
            display,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_room_pin_and_base_path() {
        let url =
            Url::parse("janus+http://10.0.0.5:8088/janus?room=1234&pin=42&display=Note%20Bot")
                .unwrap();
        let t = JanusTarget::parse(&url).unwrap();
        assert_eq!(t.api.as_str(), "http://10.0.0.5:8088/janus");
        assert_eq!(t.room, FeedId::Num(1234));
        assert_eq!(t.pin.as_deref(), Some("42"));
        assert_eq!(t.display.as_deref(), Some("Note Bot"));

        let url = Url::parse("janus+https://sfu.example.com/api/?room=standup").unwrap();
        let t = JanusTarget::parse(&url).unwrap();
        assert_eq!(t.api.as_str(), "https://sfu.example.com/api");
        assert_eq!(t.room, FeedId::Str("standup".into()));

        let url = Url::parse("janus+http://sfu.example.com?room=7").unwrap();
        assert_eq!(
            JanusTarget::parse(&url).unwrap().api.as_str(),
            "http://sfu.example.com/janus"
        );
    }

    #[test]
    fn refuses_urls_without_a_room_or_with_another_scheme() {
        let url = Url::parse("janus+http://h:8088/janus").unwrap();
        assert_eq!(JanusTarget::parse(&url), Err(TargetError::NoRoom));
        let url = Url::parse("http://h:8088/janus?room=1").unwrap();
        assert_eq!(JanusTarget::parse(&url), Err(TargetError::Scheme));
    }
}
