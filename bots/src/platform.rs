//! Which video platform a meeting URL belongs to.

use url::Url;

/// The video platforms Panelist recognises from a meeting URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Zoom,
    GoogleMeet,
    MicrosoftTeams,
    Whep,
    Janus,
    Unknown,
}

impl Platform {
    /// Classifies a meeting URL by its host and path.
    pub fn of(url: &Url) -> Platform {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let path = url.path();
        if host == "zoom.us" || host.ends_with(".zoom.us") {
            Platform::Zoom
        } else if host == "meet.google.com" {
            Platform::GoogleMeet
        } else if host == "teams.microsoft.com" || host == "teams.live.com" {
            Platform::MicrosoftTeams
        } else if url.scheme() == "janus+http" || url.scheme() == "janus+https" {
            Platform::Janus
        } else if path.contains("/whep") {
            Platform::Whep
        } else {
            Platform::Unknown
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Platform::Zoom => "Zoom",
            Platform::GoogleMeet => "Google Meet",
            Platform::MicrosoftTeams => "Microsoft Teams",
            Platform::Whep => "WHEP",
            Platform::Janus => "Janus",
            Platform::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_common_meeting_urls() {
        let cases = [
            ("https://us02web.zoom.us/j/123", Platform::Zoom),
            ("https://meet.google.com/abc-defg-hij", Platform::GoogleMeet),
            (
                "https://teams.microsoft.com/l/meetup-join/x",
                Platform::MicrosoftTeams,
            ),
            ("http://127.0.0.1:8080/whep/room1", Platform::Whep),
            (
                "janus+http://10.0.0.5:8088/janus?room=1234",
                Platform::Janus,
            ),
            (
                "janus+https://sfu.example.com/janus?room=1",
                Platform::Janus,
            ),
            ("https://example.com/call", Platform::Unknown),
        ];
        for (raw, want) in cases {
            let url = Url::parse(raw).unwrap();
            assert_eq!(Platform::of(&url), want, "{raw}");
        }
    }
}
