//! The listener loop: TLS (or, explicitly, loopback-only plain HTTP), HTTP/1.1 and HTTP/2,
//! connection caps, handshake and idle deadlines, accept back-off, and graceful shutdown that
//! closes idle connections at once and drains in-flight requests before the store closes.

use crate::config::Config;
use crate::connections::{
    decide, AcceptBackoff, Activity, Admitted, ConnectionTracker, Refusal, Verdict, WarnThrottle,
};
use crate::ctx::PeerAddr;
use crate::h1_errors::ProblemRewriter;
use crate::limits::ConnectionLimits;
use crate::routes;
use crate::state::AppState;
use hippo_store::Store;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}. Fix: choose a free address with --listen or HIPPO_LISTEN")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error("the authorization policy cannot be loaded, so the server does not start: {0}")]
    Policy(#[from] hippo_policy::PolicyError),
    #[error("the OpenID Connect issuer cannot be used, so the server does not start: {0}")]
    Oidc(#[from] hippo_oidc::OidcError),
    #[error("continuous backup cannot start, so the server does not start: {0}")]
    Backup(String),
    #[error("security alerting cannot start, so the server does not start: {0}")]
    Alerts(#[from] crate::config::ConfigError),
    #[error("the documents service cannot start, so the server does not start: {0}")]
    Documents(String),
}

/// Serves until `shutdown` resolves, then drains connections and closes the store.
pub async fn run(
    config: Config,
    data_dir: &Path,
    store: Arc<dyn Store>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    // Policy and identity provider first: a broken policy file or an unreachable issuer stops
    // the start (fail closed) before anything listens.
    let policy = hippo_policy::PolicyEngine::load(&hippo_policy::PolicyConfig {
        dir: config.policy.dir.clone(),
    })?;
    let oidc = match &config.oidc {
        Some(c) => Some(hippo_oidc::OidcVerifier::new(c.clone()).await?),
        None => None,
    };
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
    let backup =
        crate::backup_job::spawn(&config, data_dir, store.clone()).map_err(ServeError::Backup)?;
    let documents =
        crate::documents_setup::build(&config, data_dir).map_err(ServeError::Documents)?;
    let mut state = AppState::new(store.clone(), config, policy, oidc);
    state.backup = backup.as_ref().map(|b| b.status.clone());
    state.telemetry.start_alerts(&state.config, store.clone())?;
    state.documents = Some(documents);
    let app = routes::router(state.clone(), acceptor.is_some());
    warn_if_file_limit_is_low(&state.config.connections);
    tracing::info!(addr = %local, url = %format!("{scheme}://{local}"), "listening");

    let limits = Arc::new(state.config.connections.clone());
    let tracker = ConnectionTracker::new(&limits);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let hsts = acceptor.is_some();
    let sweeper = spawn_limiter_sweeper(state.clone());
    let audit_jobs = crate::audit_jobs::spawn(state.clone());
    let mut backoff = AcceptBackoff::default();
    let mut accept_warnings = WarnThrottle::new(WARN_PERIOD);
    let mut total_cap_warnings = WarnThrottle::new(WARN_PERIOD);
    let mut ip_cap_warnings = WarnThrottle::new(WARN_PERIOD);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(c) => c,
                    Err(e) => {
                        // EMFILE and friends: retrying at once only spins until a descriptor
                        // frees, so pause (5 ms doubling to 1 s) and log at most every 5 s.
                        let pause = backoff.next_delay();
                        if let Some(suppressed) = accept_warnings.allow(Instant::now()) {
                            tracing::warn!(error = %e, suppressed, retry_in_ms = pause.as_millis() as u64, open_connections = tracker.open(), "accept failed; backing off");
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(pause) => {}
                            _ = &mut shutdown => break,
                        }
                        continue;
                    }
                };
                backoff.reset();
                let admitted = match tracker.admit(peer.ip()) {
                    Ok(a) => a,
                    Err(refusal) => {
                        // Closed before the TLS handshake: the cheapest clear refusal.
                        let throttle = match refusal {
                            Refusal::TotalCap => &mut total_cap_warnings,
                            Refusal::PerIpCap => &mut ip_cap_warnings,
                        };
                        if let Some(suppressed) = throttle.allow(Instant::now()) {
                            tracing::warn!(peer_ip = %peer.ip(), limit = refusal.as_str(), suppressed, "connection refused: connection limit reached");
                        }
                        drop(tcp);
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let conn = Conn {
                    peer,
                    app: app.clone(),
                    limits: limits.clone(),
                    hsts,
                    shutdown: shutdown_rx.clone(),
                    _admitted: admitted,
                };
                tokio::spawn(conn.run(tcp, acceptor.clone()));
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    sweeper.abort();
    audit_jobs.abort();
    tracing::info!(
        grace_secs = grace.as_secs(),
        open_connections = tracker.open(),
        "shutting down: closing idle connections, draining in-flight requests"
    );
    let _ = shutdown_tx.send(true);
    drop(shutdown_rx);
    // Every connection task holds a receiver; all are gone once every connection has closed.
    if tokio::time::timeout(grace, shutdown_tx.closed())
        .await
        .is_err()
    {
        tracing::warn!(
            open_connections = tracker.open(),
            "grace period over; closing remaining connections"
        );
    }
    // Sign every log's final state, so the events of this run are covered by a head.
    crate::audit_jobs::sign_all(store.as_ref()).await;
    // Ship everything committed, those heads included, before the store closes.
    if let Some(b) = backup {
        b.finish().await;
    }
    store.shutdown().await;
    tracing::info!("stopped; pending commits flushed");
    Ok(())
}

/// At most one warning line per this period for each kind of connection trouble.
const WARN_PERIOD: Duration = Duration::from_secs(5);

/// How long a retiring connection may take to flush its last bytes (a GOAWAY, the end of a
/// response) before it is dropped: a peer that stops reading must not hold it open.
const LINGER: Duration = Duration::from_secs(1);

/// One accepted connection and what it needs to serve and retire itself.
struct Conn {
    peer: SocketAddr,
    app: axum::Router,
    limits: Arc<ConnectionLimits>,
    hsts: bool,
    shutdown: watch::Receiver<bool>,
    _admitted: Admitted,
}

impl Conn {
    async fn run(self, tcp: TcpStream, acceptor: Option<TlsAcceptor>) {
        let activity = Activity::new();
        match acceptor {
            Some(acceptor) => {
                let deadline = Instant::now() + self.limits.handshake_timeout();
                let handshake = tokio::time::timeout_at(deadline, acceptor.accept(tcp));
                let mut shutdown = self.shutdown.clone();
                let finished = tokio::select! {
                    finished = handshake => finished,
                    // A half-open handshake is not a request in flight: shutdown does not wait.
                    _ = shutdown.wait_for(|stopping| *stopping) => return,
                };
                let tls = match finished {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "TLS handshake refused");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!("TLS handshake timed out");
                        return;
                    }
                };
                self.serve(tls, activity).await
            }
            None => self.serve(tcp, activity).await,
        }
    }

    /// Serves HTTP/1.1 or HTTP/2 on `io` until the client leaves, a deadline passes, or shutdown.
    async fn serve<I>(mut self, io: I, activity: Arc<Activity>)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let limits = self.limits.clone();
        let io = ProblemRewriter::new(io, &limits, self.hsts);
        let (peer, app, svc_activity) = (self.peer, self.app.clone(), activity.clone());
        let svc_limits = limits.clone();
        let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            let in_flight = svc_activity.begin();
            req.extensions_mut().insert(PeerAddr(peer));
            if let Err(too_large) = crate::limits::check_request(&req, &svc_limits) {
                // Answered by the request-scope middleware, as a logged problem response.
                req.extensions_mut().insert(too_large);
            }
            let app = app.clone();
            async move {
                let resp = app.oneshot(req).await?;
                // The request counts as in flight until hyper has sent (and dropped) the body.
                Ok::<_, std::convert::Infallible>(resp.map(|body| {
                    axum::body::Body::new(body.map_frame(move |frame| {
                        let _still_sending = &in_flight;
                        frame
                    }))
                }))
            }
        });
        let mut builder = Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            // The watchdog below owns the deadlines: hyper's header timer would also run while
            // a kept-alive connection waits for its next request, cutting the idle timeout short.
            .header_read_timeout(None)
            .max_buf_size(limits.hyper_h1_max_buf())
            .max_headers(limits.hyper_h1_max_headers())
            .writev(false);
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(Duration::from_secs(limits.http2_keepalive_interval_secs))
            .keep_alive_timeout(Duration::from_secs(limits.http2_keepalive_timeout_secs))
            .max_header_list_size(limits.hyper_h2_max_header_list());
        let conn = builder.serve_connection(TokioIo::new(io), svc);
        tokio::pin!(conn);
        let mut shutting_down = *self.shutdown.borrow();
        let mut draining = false;
        let mut linger_until: Option<Instant> = None;
        loop {
            let now = Instant::now();
            let wake = match linger_until {
                Some(until) => until,
                None => match decide(now, activity.snapshot(), shutting_down, &limits) {
                    Verdict::Serve { recheck_at } => recheck_at,
                    Verdict::Abort => {
                        tracing::debug!(
                            "connection closed: no request within the handshake timeout"
                        );
                        return;
                    }
                    Verdict::Drain => {
                        if !draining {
                            draining = true;
                            conn.as_mut().graceful_shutdown();
                        }
                        // Re-check soon: once the last response is sent the connection retires.
                        now + Duration::from_millis(100)
                    }
                    Verdict::Retire => {
                        if !draining {
                            draining = true;
                            conn.as_mut().graceful_shutdown();
                        }
                        linger_until = Some(now + LINGER);
                        now + LINGER
                    }
                },
            };
            if linger_until.is_some_and(|until| now >= until) {
                return;
            }
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = tokio::time::sleep_until(wake) => {}
                changed = self.shutdown.changed(), if !shutting_down => {
                    shutting_down = changed.is_err() || *self.shutdown.borrow();
                }
            }
        }
    }
}

/// Warns at start when the open-file limit is below what `max_connections` needs, since the
/// accept loop would then hit EMFILE before the cap.
fn warn_if_file_limit_is_low(limits: &ConnectionLimits) {
    // Descriptors the process needs besides connections: stores, logs, the runtime.
    const RESERVE: libc::rlim_t = 64;
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } != 0 {
        return;
    }
    let soft = rl.rlim_cur;
    if soft < (limits.max_connections as libc::rlim_t).saturating_add(RESERVE) {
        tracing::warn!(
            open_file_limit = soft,
            max_connections = limits.max_connections,
            "the open-file limit is below connections.max_connections plus a reserve of {RESERVE}: under load, accepts fail (and back off) before the cap refuses. Fix: raise the limit (systemd LimitNOFILE, docker --ulimit nofile, ulimit -n) or lower connections.max_connections"
        );
    }
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
