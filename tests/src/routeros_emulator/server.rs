//! The emulator's HTTP(S) server: hyper over a loopback listener, TLS via tokio-rustls, basic auth, and
//! the latency and outage knobs applied per connection and per request.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, body::Bytes, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::{net::TcpListener, sync::watch};
use tokio_rustls::TlsAcceptor;

use super::state::{Logged, Outage, State, error_body};

/// Accepts connections until `shutdown` flips.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    state: Arc<Mutex<State>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let Ok((stream, _peer)) = accepted else {
            continue;
        };
        let outage = state.lock().expect("state").outage;
        match outage {
            Some(Outage::Refuse) => {
                drop(stream);
                continue;
            }
            Some(Outage::BlackHole) => {
                let mut shutdown = shutdown.clone();
                tokio::spawn(async move {
                    let _held = stream;
                    let _ = shutdown.changed().await;
                });
                continue;
            }
            None => {}
        }
        let state = state.clone();
        let tls = tls.clone();
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(state.clone(), req));
            let http = hyper::server::conn::http1::Builder::new();
            tokio::select! {
                _ = shutdown.changed() => {}
                _ = async {
                    match tls {
                        Some(tls) => {
                            if let Ok(stream) = tls.accept(stream).await {
                                let _ = http.serve_connection(TokioIo::new(stream), service).await;
                            }
                        }
                        None => {
                            let _ = http.serve_connection(TokioIo::new(stream), service).await;
                        }
                    }
                } => {}
            }
        });
    }
}

/// Fails the connection (hyper closes it) while the router is "down".
#[derive(Debug)]
struct Down;

impl std::fmt::Display for Down {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("router down")
    }
}

impl std::error::Error for Down {}

async fn handle(
    state: Arc<Mutex<State>>,
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Down> {
    let (latency, outage) = {
        let s = state.lock().expect("state");
        (s.latency, s.outage)
    };
    match outage {
        Some(Outage::Refuse) => return Err(Down),
        Some(Outage::BlackHole) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return Err(Down);
        }
        None => {}
    }
    let method = request.method().as_str().to_string();
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    let auth = request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut s = state.lock().expect("state");
    let authorized = auth
        .as_deref()
        .and_then(|a| a.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .is_some_and(|decoded| decoded == format!("{}:{}", s.user, s.password).as_bytes());
    let rest_path = path.strip_prefix("/rest/").unwrap_or(&path).to_string();
    let (status, json) = if !authorized {
        (401, error_body(401, None))
    } else if !path.starts_with("/rest/") {
        (404, error_body(404, None))
    } else {
        s.handle(&method, &rest_path, &query, &body)
    };
    s.log.push(Logged {
        method,
        path: rest_path,
        query,
        body: String::from_utf8_lossy(&body).into_owned(),
        status,
    });
    let response = Response::builder()
        .status(status)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(json.to_string())))
        .expect("response");
    Ok(response)
}

/// Binds a loopback listener on an ephemeral port.
pub async fn bind() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    (listener, addr)
}
