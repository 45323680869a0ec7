//! The HTTP endpoints: `GET /health` (JSON; 200 healthy, 503 degraded) and `GET /metrics` (OpenMetrics).

use std::{convert::Infallible, future::Future, net::SocketAddr, sync::Arc};

use http_body_util::Full;
use hyper::{
    Method, Request, Response, StatusCode,
    body::{Bytes, Incoming},
    header::{CONTENT_TYPE, HeaderValue},
    server::conn::http1,
    service::service_fn,
};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::Telemetry;

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {address} for /health and /metrics: {source}")]
pub struct HttpError {
    /// The configured address.
    pub address: SocketAddr,
    /// The bind error.
    pub source: std::io::Error,
}

/// Binds the listener (before READY, so that a busy port fails the start-up).
///
/// # Errors
/// [`HttpError`] naming the address.
pub async fn bind(address: SocketAddr) -> Result<TcpListener, HttpError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| HttpError { address, source })
}

/// Serves requests until `shutdown` resolves. Connections are short; in-flight ones finish on their own task.
pub async fn serve(
    listener: TcpListener,
    telemetry: Arc<Telemetry>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting an HTTP connection failed");
                    continue;
                }
            },
        };
        let telemetry = Arc::clone(&telemetry);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let telemetry = Arc::clone(&telemetry);
                async move { Ok::<_, Infallible>(respond(&telemetry, &request)) }
            });
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%error, %peer, "HTTP connection ended with an error");
            }
        });
    }
}

fn respond(telemetry: &Telemetry, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    if request.method() != Method::GET {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
    }
    match request.uri().path() {
        "/health" => {
            let report = telemetry.health(tokio::time::Instant::now());
            let status = if report.is_healthy() {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            match serde_json::to_vec_pretty(&report) {
                Ok(body) => with_type(status, body, "application/json"),
                Err(error) => plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("encoding health: {error}\n"),
                ),
            }
        }
        "/metrics" => with_type(
            StatusCode::OK,
            telemetry.encode_metrics().into_bytes(),
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ),
        _ => plain(
            StatusCode::NOT_FOUND,
            "not found; try /health or /metrics\n",
        ),
    }
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    with_type(
        status,
        text.as_bytes().to_vec(),
        "text/plain; charset=utf-8",
    )
}

fn with_type(
    status: StatusCode,
    body: Vec<u8>,
    content_type: &'static str,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
