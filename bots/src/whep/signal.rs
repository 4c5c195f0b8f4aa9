//! WHEP signalling over HTTP: POST the offer, read the answer and session URL, DELETE to leave.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode};
use url::Url;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;

use crate::call::{BearerToken, JoinError, JoinStage, LeaveError};
use crate::netpolicy::{refusal_in, GuardedHttp};

const SDP: &str = "application/sdp";

/// The session the server created for us.
#[derive(Debug, Clone)]
pub struct WhepResource {
    pub answer: String,
    /// Where to send DELETE; resolved against the endpoint URL.
    pub location: Url,
}

pub async fn post_offer(
    http: &GuardedHttp,
    endpoint: &Url,
    token: Option<&BearerToken>,
    offer: String,
    timeout: Duration,
) -> Result<WhepResource, JoinError> {
    let mut req = http
        .request(Method::POST, endpoint.clone())?
        .header(CONTENT_TYPE, SDP)
        .timeout(timeout)
        .body(offer);
    if let Some(t) = token {
        req = req.header(AUTHORIZATION, format!("Bearer {}", t.expose()));
    }
    let resp = req.send().await.map_err(transport_error)?;
    let status = resp.status();
    // WHEP says 201 Created; some servers answer 200 with the same content, which works just as well.
    if status != StatusCode::CREATED && status != StatusCode::OK {
        return Err(JoinError::from_status(status.as_u16()));
    }
    let location = resp
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            JoinError::BadAnswer("no Location header: the session could never be left".into())
        })
        .and_then(|loc| {
            endpoint
                .join(loc)
                .map_err(|e| JoinError::BadAnswer(format!("bad Location {loc:?}: {e}")))
        })?;
    let answer = resp.text().await.map_err(transport_error)?;
    if !answer.starts_with("v=0") {
        return Err(JoinError::BadAnswer("the body is not an SDP answer".into()));
    }
    Ok(WhepResource { answer, location })
}

/// Parses the SDP answer a WHEP server sent (the body `post_offer` returned) into the description
/// `set_remote_description` applies. The body is untrusted: anything that is not an SDP answer is a
/// `BadAnswer`. Public (as `whep::parse_answer`) for the fuzz targets (docs/fuzzing.md).
pub fn parse_answer(answer: &str) -> Result<RTCSessionDescription, JoinError> {
    if !answer.starts_with("v=0") {
        return Err(JoinError::BadAnswer("the body is not an SDP answer".into()));
    }
    RTCSessionDescription::answer(answer.to_owned())
        .map_err(|e| JoinError::BadAnswer(e.to_string()))
}

pub async fn delete_session(
    http: &GuardedHttp,
    location: &Url,
    token: Option<&BearerToken>,
    timeout: Duration,
) -> Result<(), LeaveError> {
    // The Location came from the server: it is held to the same policy as the endpoint.
    let mut req = http
        .request(Method::DELETE, location.clone())
        .map_err(|e| LeaveError::NotConfirmed(format!("session URL not allowed: {e}")))?
        .timeout(timeout);
    if let Some(t) = token {
        req = req.header(AUTHORIZATION, format!("Bearer {}", t.expose()));
    }
    let resp = req
        .send()
        .await
        .map_err(|e| LeaveError::NotConfirmed(e.to_string()))?;
    let status = resp.status();
    // 404: the server already forgot the session, which is what leaving wants.
    if status.is_success() || status == StatusCode::NOT_FOUND {
        Ok(())
    } else {
        Err(LeaveError::NotConfirmed(format!("HTTP {status}")))
    }
}

fn transport_error(e: reqwest::Error) -> JoinError {
    if let Some(refused) = refusal_in(&e) {
        JoinError::UrlNotAllowed(refused)
    } else if e.is_timeout() {
        JoinError::Timeout {
            stage: JoinStage::Signalling,
        }
    } else {
        JoinError::Transport(e.to_string())
    }
}
