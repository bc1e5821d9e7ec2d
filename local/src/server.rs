//! The HTTP server of local mode: accepts connections up to a cap, serves each with hyper's
//! HTTP/1 with a header-read timeout (which also closes a keep-alive connection left idle),
//! and on shutdown lets in-flight requests finish for a bounded drain time, then closes
//! what is left. `axum::serve` has none of these limits: one client sending its headers a
//! byte a minute, or ten thousand idle sockets, would hold the process's file descriptors.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// How long a client may take to send a request's headers, and how long a keep-alive
/// connection may stay idle between requests, by default.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a shutdown waits for in-flight requests before closing their connections.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once at most, by default (fewer when file descriptors are short).
pub const MAX_CONNECTIONS: usize = 10_000;
/// File descriptors kept for everything but connections: the stream log, `pipeline.db` and
/// its readers, the listeners, the runtime.
pub const RESERVED_FDS: u64 = 512;
/// Fewest connections worth serving: below this the descriptor limit is too low to run.
pub const MIN_CONNECTIONS: usize = 16;
/// Wait after a failed `accept` (e.g. out of file descriptors) before the next one.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The server's limits (DESIGN section 4's "timeouts and connection limits").
#[derive(Clone, Copy, Debug)]
pub struct ServerLimits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Time to send a request's headers, and to leave a keep-alive connection idle.
    pub header_timeout: Duration,
    /// Time a shutdown waits for requests in flight.
    pub drain_timeout: Duration,
}

/// Raises the soft limit of open files to the hard limit and returns the new soft limit.
pub fn raise_open_files_limit() -> u64 {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return 1024;
            }
            if limit.rlim_cur < limit.rlim_max {
                let raised = libc::rlimit {
                    rlim_cur: limit.rlim_max,
                    rlim_max: limit.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    limit.rlim_cur = limit.rlim_max;
                }
            }
        }
        limit.rlim_cur as u64
    }
    #[cfg(not(unix))]
    1024
}

/// The connection cap: `wanted` (default [`MAX_CONNECTIONS`]) within the open-files limit
/// less `reserved` descriptors.
pub fn connection_cap(
    wanted: Option<usize>,
    open_files: u64,
    reserved: u64,
) -> anyhow::Result<usize> {
    let available = open_files.saturating_sub(reserved).min(usize::MAX as u64) as usize;
    if available < MIN_CONNECTIONS {
        bail!(
            "the open-files limit is {open_files}, and {reserved} are kept for the stream, the database and the archive: \
             raise it (ulimit -n) to at least {}",
            reserved + MIN_CONNECTIONS as u64
        );
    }
    match wanted {
        Some(n) if n > available => bail!(
            "--max-connections {n} is more than the open-files limit allows ({open_files}, less {reserved} kept for the \
             stream, the database and the archive): pass at most {available}, or raise ulimit -n"
        ),
        Some(0) => bail!("--max-connections must be at least 1"),
        Some(n) => Ok(n),
        None => Ok(MAX_CONNECTIONS.min(available)),
    }
}

/// The connection slots of [`ServerLimits::max_connections`], for every listener of the
/// process together (the cap protects the process's file descriptors).
pub fn connection_slots(limits: &ServerLimits) -> Arc<Semaphore> {
    Arc::new(Semaphore::new(limits.max_connections))
}

/// Serves `router` on `listener` until `shutdown` completes, then drains (see the module
/// doc). Each connection takes one of `slots` while it is open.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    slots: Arc<Semaphore>,
    shutdown: impl Future<Output = ()>,
) {
    let (closing, closing_seen) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        // At the cap, stop accepting: new connections wait in the kernel's backlog.
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a connection; trying again");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        let service = TowerToHyperService::new(router.clone());
        let mut closing = closing_seen.clone();
        connections.spawn(async move {
            let _slot = slot;
            let _ = stream.set_nodelay(true);
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                () = async { let _ = closing.wait_for(|closing| *closing).await; } => {
                    // Finishes the request in flight, then closes; an idle one closes now.
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    drop(listener);
    let _ = closing.send(true);
    let drained = tokio::time::timeout(limits.drain_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = connections.len(),
            "closing the connections still open after the drain time; their requests were not acknowledged"
        );
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_descriptors_for_the_rest() {
        assert_eq!(
            connection_cap(None, 1_048_576, RESERVED_FDS).unwrap(),
            MAX_CONNECTIONS
        );
        assert_eq!(connection_cap(None, 4096, 1024).unwrap(), 3072);
        assert_eq!(connection_cap(Some(100), 4096, 1024).unwrap(), 100);
        let e = connection_cap(Some(5000), 4096, 1024)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--max-connections 5000") && e.contains("3072"),
            "{e}"
        );
        let e = connection_cap(None, 1030, 1024).unwrap_err().to_string();
        assert!(e.contains("ulimit -n"), "{e}");
    }
}
