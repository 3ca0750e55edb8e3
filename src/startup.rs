//! Builds the application from its settings and serves it. The listener is
//! bound here (port 0 works, for tests) and the shutdown signal comes from
//! the caller.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::cli::{Args, StoreUrl};
use crate::config::ServerConfig;
use crate::http::{AppState, router};
use crate::shards::Halls;

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Builds the halls from `config` and binds `args.listen`.
    ///
    /// # Errors
    /// The address cannot be bound.
    pub async fn build(args: &Args, config: &ServerConfig) -> anyhow::Result<Application> {
        match &args.store {
            StoreUrl::File(dir) => tracing::warn!(
                dir = %dir.display(),
                "the embedded store is not implemented yet: state is kept in memory only"
            ),
            StoreUrl::Redis(url) => {
                tracing::warn!(%url, "the Redis store is not implemented yet: state is kept in memory only")
            }
        }
        let listener = TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let state = AppState {
            halls: Halls::new(config),
        };
        Ok(Application { listener, state })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    ///
    /// # Errors
    /// The server fails to accept connections.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let addr = self.local_addr()?;
        tracing::info!(%addr, "hallcall listening");
        axum::serve(self.listener, router(self.state))
            .with_graceful_shutdown(shutdown)
            .await
            .context("server failed")
    }
}
