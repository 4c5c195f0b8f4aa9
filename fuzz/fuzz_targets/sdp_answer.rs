//! What a connector reads from a call server before media flows: the WHEP server's SDP answer
//! (`whep::parse_answer`, the check and parse the connector runs before `set_remote_description`), and the
//! Janus VideoRoom's JSON events (`CoreEvent::parse`, `room_events`) with the SDP offer a `jsep` carries.
//!
//! Input: text. A body starting `v=0` is an SDP answer; a JSON body is a Janus event. Both are tried on
//! every input, so each seed corpus can cross over into the other.
#![no_main]

use libfuzzer_sys::fuzz_target;
use panelist_bots::janus::{room_events, CoreEvent, FeedId};
use panelist_bots::whep::parse_answer;
use panelist_bots::JoinError;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match parse_answer(&text) {
        Ok(desc) => {
            assert!(text.starts_with("v=0"));
            // What webrtc-rs goes on to read from a parsed answer.
            if let Ok(parsed) = desc.unmarshal() {
                for m in &parsed.media_descriptions {
                    let _ = (&m.media_name.media, m.attribute("mid"), m.attribute("msid"));
                }
                let _ = parsed.marshal();
            }
        }
        Err(e) => assert!(matches!(e, JoinError::BadAnswer(_))),
    }
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let _ = FeedId::from_json(&event);
    match CoreEvent::parse(&event) {
        CoreEvent::Plugin { data, jsep, .. } => {
            let _ = room_events(&data);
            if let Some(jsep) = jsep {
                // The bot answers Janus's offers: `rtc::gathered_answer` starts with this parse.
                if let Ok(offer) = RTCSessionDescription::offer(jsep.sdp.clone()) {
                    let _ = offer.unmarshal();
                }
                let _ = parse_answer(&jsep.sdp);
            }
        }
        _ => {
            let _ = room_events(&event);
        }
    }
});
