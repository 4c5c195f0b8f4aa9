//! Who is asking: a signed-in dashboard session (cookie) or the API token (bearer). Every page and
//! API route goes through here; the only open routes are /healthz, /readyz, /metrics (when
//! configured public), the webhook endpoint, the login and setup pages, and the static assets.
//!
//! Requests that change something and come with a session cookie must carry the session's CSRF
//! token, as the `X-CSRF-Token` header (the dashboard's scripts) or a `csrf` form field (its forms).
//! The bearer token needs none: browsers never attach it on their own.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use futures::StreamExt;

use crate::auth::{Session, SESSION_COOKIE};
use crate::http::AppState;

/// The largest form a CSRF check reads; every dashboard form is far smaller.
const FORM_LIMIT: usize = 64 * 1024;
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The authenticated caller, in the request's extensions.
#[derive(Debug, Clone)]
pub enum Principal {
    User(Session),
    /// The admin API token: full rights, for scripts.
    Token,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        match self {
            Principal::User(s) => s.is_admin(),
            Principal::Token => true,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Principal::User(s) => &s.email,
            Principal::Token => "api-token",
        }
    }

    pub fn session(&self) -> Option<&Session> {
        match self {
            Principal::User(s) => Some(s),
            Principal::Token => None,
        }
    }

    pub fn csrf(&self) -> &str {
        self.session().map_or("", |s| s.csrf.as_str())
    }
}

impl FromRequest for Principal {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            req.extensions()
                .get::<Principal>()
                .cloned()
                .ok_or_else(|| actix_web::error::ErrorUnauthorized("sign in first")),
        )
    }
}

/// `None` for an admin, else the 403 the handler returns as is.
pub fn admin_only(p: &Principal) -> Option<HttpResponse> {
    (!p.is_admin()).then(|| {
        HttpResponse::Forbidden()
            .content_type("text/plain; charset=utf-8")
            .body("Only admins can do this.")
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Surface {
    /// Pages redirect to the login page; live fragments answer 401 so the script can redirect.
    Html,
    Api,
}

pub async fn pages(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    guard(req, next, Surface::Html).await
}

pub async fn api(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    guard(req, next, Surface::Api).await
}

/// For `/metrics` when it is not public: any signed-in user or the token.
pub async fn any_principal(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let public = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|s| s.settings.dashboard.metrics_public);
    if public {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    guard(req, next, Surface::Api).await
}

async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    surface: Surface,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(refuse(
            req,
            StatusCode::INTERNAL_SERVER_ERROR,
            "not configured",
        ));
    };
    let principal = match authenticate(&req, &state).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the session store");
            return Ok(refuse(
                req,
                StatusCode::SERVICE_UNAVAILABLE,
                "the session store is unavailable; try again shortly",
            ));
        }
    };
    let Some(principal) = principal else {
        let is_page = surface == Surface::Html
            && req.method() == Method::GET
            && !req.path().starts_with("/live/");
        if is_page {
            let next_path = req
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_string();
            let location = format!("/login?next={}", urlencode(&next_path));
            let res = HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .finish();
            return Ok(req.into_response(res));
        }
        return Ok(refuse(
            req,
            StatusCode::UNAUTHORIZED,
            "authentication required",
        ));
    };
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method {
        if let Principal::User(session) = &principal {
            if !csrf_ok(&mut req, session).await {
                tracing::warn!(user = %session.email, path = %req.path(), "refused a request without a valid CSRF token");
                return Ok(refuse(
                    req,
                    StatusCode::FORBIDDEN,
                    "missing or wrong CSRF token; reload the page and try again",
                ));
            }
        }
    }
    if unsafe_method && surface == Surface::Api && !principal.is_admin() {
        return Ok(refuse(
            req,
            StatusCode::FORBIDDEN,
            "only admins can change things",
        ));
    }
    req.extensions_mut().insert(principal);
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// The caller, if any: a bearer token first, else the session cookie.
pub async fn authenticate(
    req: &ServiceRequest,
    state: &AppState,
) -> Result<Option<Principal>, crate::store::StoreError> {
    if let Some(token) = bearer(req) {
        return Ok(state.admin_token.matches(token).then_some(Principal::Token));
    }
    match req.cookie(SESSION_COOKIE) {
        Some(c) => Ok(state.sessions.get(c.value()).await?.map(Principal::User)),
        None => Ok(None),
    }
}

fn bearer(req: &ServiceRequest) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The header, or for a urlencoded form its `csrf` field (the body is read and put back).
async fn csrf_ok(req: &mut ServiceRequest, session: &Session) -> bool {
    if let Some(v) = req.headers().get(CSRF_HEADER) {
        return v.to_str().is_ok_and(|t| session.csrf_matches(t));
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return false;
    }
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let Ok(chunk) = chunk else { return false };
        if body.len() + chunk.len() > FORM_LIMIT {
            return false;
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    let ok = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "csrf")
        .is_some_and(|(_, v)| session.csrf_matches(&v));
    req.set_payload(Payload::from(body));
    ok
}

fn refuse(req: ServiceRequest, status: StatusCode, why: &str) -> ServiceResponse<BoxBody> {
    let res = HttpResponse::build(status).json(serde_json::json!({ "error": why }));
    req.into_response(res)
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
