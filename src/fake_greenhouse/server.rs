//! The fake's HTTP shell: an actix-web server on its own thread and `System`, so tests on any
//! runtime (or none) can use it, and one catch-all handler that records the request, applies an
//! armed fault, and hands everything else to `api::dispatch` under the state mutex.

use std::io;
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use chrono::Utc;

use super::api::{self, Incoming, Reply};
use super::state::State;
use super::{Fault, RecordedRequest};

/// How long `Fault::StoreThenTimeout` stalls after storing: longer than any sane client timeout.
const STALL: Duration = Duration::from_secs(30);

pub(crate) type SharedState = Arc<Mutex<State>>;

pub(crate) fn lock(state: &SharedState) -> std::sync::MutexGuard<'_, State> {
    // A panic in a handler must not wedge every later test request.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Binds and starts the server on a dedicated thread; returns once it is accepting.
pub(crate) fn spawn(
    state: SharedState,
    listener: std::net::TcpListener,
) -> io::Result<actix_web::dev::ServerHandle> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("fake-greenhouse".into())
        .spawn(move || {
            let system = actix_rt::System::new();
            system.block_on(async move {
                let data = web::Data::new(state);
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(data.clone())
                        .app_data(web::PayloadConfig::new(1 << 20))
                        .default_service(web::to(handle))
                })
                .workers(2)
                .disable_signals()
                .shutdown_timeout(1)
                .listen(listener);
                let server = match server {
                    Ok(s) => s.run(),
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let _ = tx.send(Ok(server.handle()));
                let _ = server.await;
            });
        })?;
    rx.recv()
        .map_err(|_| io::Error::other("fake Greenhouse server thread exited during start"))?
}

async fn handle(req: HttpRequest, body: web::Bytes, state: web::Data<SharedState>) -> HttpResponse {
    let info = req.connection_info().clone();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let inc = Incoming {
        method: req.method().as_str().to_string(),
        path: req.path().to_string(),
        params: api::parse_query(req.query_string()),
        authorization: header("authorization"),
        on_behalf_of: header("on-behalf-of"),
        body: body.to_vec(),
        origin: format!("{}://{}", info.scheme(), info.host()),
    };
    let record = |status: u16| RecordedRequest {
        method: inc.method.clone(),
        path: inc.path.clone(),
        query: req.query_string().to_string(),
        status,
        on_behalf_of: inc.on_behalf_of.clone(),
        at: Utc::now(),
    };

    let fault = lock(&state).take_fault(&inc.method, &inc.path);
    let mut stall = false;
    match fault {
        Some(Fault::Status(code)) => {
            lock(&state).record(record(code));
            let mut reply = Reply::json(code, serde_json::json!({"message": "Injected fault"}));
            if code == 429 || code == 503 {
                reply.headers.push(("Retry-After".into(), "1".into()));
            }
            return respond(reply);
        }
        Some(Fault::DropConnection) => {
            // Status 0 in the log: the client never gets a complete answer.
            lock(&state).record(record(0));
            return dropped();
        }
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        Some(Fault::StoreThenTimeout) => stall = true,
        None => {}
    }

    let reply = {
        let mut st = lock(&state);
        let reply = api::dispatch(&mut st, &inc);
        st.record(record(reply.status));
        reply
    };
    tracing::debug!(method = %inc.method, path = %inc.path, status = reply.status, "fake greenhouse");
    if stall {
        tokio::time::sleep(STALL).await;
    }
    respond(reply)
}

fn respond(reply: Reply) -> HttpResponse {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(status);
    for (k, v) in &reply.headers {
        builder.append_header((k.as_str(), v.as_str()));
    }
    match reply.body {
        Some(body) => builder.json(body),
        None => builder.finish(),
    }
}

/// A response whose body fails after the headers: the connection is torn down mid-answer.
fn dropped() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .streaming(futures::stream::once(async {
            Err::<web::Bytes, io::Error>(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "injected connection drop",
            ))
        }))
}
