//! The listener loop: TLS (or, explicitly, loopback-only plain HTTP), HTTP/1.1 and HTTP/2,
//! and graceful shutdown that drains in-flight requests before the store flushes and closes.

use crate::config::Config;
use crate::ctx::PeerAddr;
use crate::routes;
use crate::state::AppState;
use hippo_store::Store;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// Longest a client may take to finish the TLS handshake or send request headers.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}. Fix: choose a free address with --listen or HIPPO_LISTEN")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

/// Serves until `shutdown` resolves, then drains connections and closes the store.
pub async fn run(
    config: Config,
    data_dir: &Path,
    store: Arc<dyn Store>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let listener = TcpListener::bind(&config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.listen.clone(),
            source,
        })?;
    let local = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: config.listen.clone(),
        source,
    })?;
    let acceptor = if config.insecure_http {
        tracing::warn!(addr = %local, "serving PLAIN HTTP on loopback (--insecure-http): PHI is NOT encrypted in transit; never use this outside local development");
        None
    } else {
        Some(TlsAcceptor::from(crate::tls::server_config(
            &config, data_dir,
        )?))
    };
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    let grace = Duration::from_secs(config.shutdown_grace_secs);
    let state = AppState::new(store.clone(), config);
    let app = routes::router(state.clone(), acceptor.is_some());
    tracing::info!(addr = %local, url = %format!("{scheme}://{local}"), "listening");

    let graceful = GracefulShutdown::new();
    let sweeper = spawn_limiter_sweeper(state.clone());
    let audit_jobs = crate::audit_jobs::spawn(state.clone());
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                spawn_connection(tcp, peer, acceptor.clone(), app.clone(), &graceful);
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    sweeper.abort();
    audit_jobs.abort();
    tracing::info!(
        grace_secs = grace.as_secs(),
        "shutting down: draining in-flight requests"
    );
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("grace period over; closing remaining connections");
    }
    // Sign every log's final state, so the events of this run are covered by a head.
    crate::audit_jobs::sign_all(store.as_ref()).await;
    store.shutdown().await;
    tracing::info!("stopped; pending commits flushed");
    Ok(())
}

fn spawn_connection(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    acceptor: Option<TlsAcceptor>,
    app: axum::Router,
    graceful: &GracefulShutdown,
) {
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(PeerAddr(peer));
        app.clone().oneshot(req)
    });
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HANDSHAKE_TIMEOUT);
    let watcher = graceful.watcher();
    tokio::spawn(async move {
        match acceptor {
            Some(acceptor) => {
                let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
                {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "TLS handshake refused");
                        return;
                    }
                    Err(_) => return,
                };
                let conn = builder.serve_connection(TokioIo::new(tls), svc);
                let _ = watcher.watch(conn).await;
            }
            None => {
                let conn = builder.serve_connection(TokioIo::new(tcp), svc);
                let _ = watcher.watch(conn).await;
            }
        }
    });
}

fn spawn_limiter_sweeper(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            state.limiter.retain_recent();
        }
    })
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("can install a SIGTERM handler");
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
    }
}
