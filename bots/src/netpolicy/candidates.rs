//! Remote ICE candidates are where a bot's media (UDP, or TCP) goes, and they come from the media server's
//! SDP: as untrusted as the meeting URL. A server (or whoever controls the meeting URL's server) could
//! otherwise point the bot's STUN checks at an internal address. Candidates whose address the policy
//! refuses are removed before the SDP is applied; names (mDNS `.local` and others) are refused too, since
//! what they resolve to at connect time cannot be checked here.

use std::net::IpAddr;

use super::NetworkPolicy;

/// An SDP with the disallowed remote candidates taken out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilteredSdp {
    pub sdp: String,
    /// Candidates left in.
    pub kept: usize,
    /// The addresses taken out, as written, with why.
    pub refused: Vec<String>,
}

impl NetworkPolicy {
    /// Removes `a=candidate` lines whose connection address this policy refuses. Every other line is
    /// kept byte for byte.
    pub fn filter_candidates(&self, sdp: &str) -> FilteredSdp {
        let mut out = String::with_capacity(sdp.len());
        let (mut kept, mut refused) = (0, Vec::new());
        for line in sdp.split_inclusive('\n') {
            let Some(candidate) = line.trim_end().strip_prefix("a=candidate:") else {
                out.push_str(line);
                continue;
            };
            // foundation component transport priority address port "typ" type ...
            let address = candidate.split_ascii_whitespace().nth(4).unwrap_or("");
            let verdict = match address.parse::<IpAddr>() {
                Ok(ip) => self
                    .check_ip(ip)
                    .map_err(|class| format!("{address} ({})", class.describe())),
                Err(_) => Err(format!("{address:?} (a name, not an address)")),
            };
            match verdict {
                Ok(()) => {
                    kept += 1;
                    out.push_str(line);
                }
                Err(why) => refused.push(why),
            }
        }
        FilteredSdp {
            sdp: out,
            kept,
            refused,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDP: &str =
        "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
c=IN IP4 0.0.0.0\r\n\
a=candidate:1 1 udp 2130706431 93.184.216.34 40000 typ host\r\n\
a=candidate:2 1 udp 2130706431 10.0.0.5 40001 typ host\r\n\
a=candidate:3 1 udp 2130706431 169.254.169.254 40002 typ host\r\n\
a=candidate:4 1 udp 2130706431 127.0.0.1 40003 typ host\r\n\
a=candidate:5 1 udp 2130706431 3b1c.local 40004 typ host\r\n\
a=end-of-candidates\r\n";

    #[test]
    fn public_candidates_stay_and_refused_ranges_go() {
        let f = NetworkPolicy::default().filter_candidates(SDP);
        assert_eq!(f.kept, 1, "{f:?}");
        assert!(f.sdp.contains("93.184.216.34 40000"));
        for gone in ["10.0.0.5", "169.254.169.254", "127.0.0.1", "3b1c.local"] {
            assert!(!f.sdp.contains(gone), "{gone} left in:\n{}", f.sdp);
        }
        assert_eq!(f.refused.len(), 4, "{:?}", f.refused);
        // Everything else is untouched.
        assert!(f.sdp.starts_with("v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\n"));
        assert!(f.sdp.ends_with("a=end-of-candidates\r\n"));
    }

    #[test]
    fn loopback_stays_where_the_policy_allows_it() {
        let f = NetworkPolicy::loopback().filter_candidates(SDP);
        assert!(f.sdp.contains("127.0.0.1 40003"));
        // Link-local (cloud metadata) is refused whatever the policy says.
        assert!(!f.sdp.contains("169.254.169.254"));
    }
}
