//! What the binary hands each service when it starts it, and how a service runs background
//! work (event consumers, cache invalidation, audit flushing) that ends cleanly on shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use sea_orm::DatabaseConnection;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::ServerConfig;
use crate::events::Bus;
use crate::redis::RedisHandle;

/// A start-up failure of a service.
pub type StartError = Box<dyn std::error::Error + Send + Sync>;

/// A service's connections and settings, built by `kaigo serve` or `kaigo dev`.
#[derive(Clone)]
pub struct ServiceContext {
    /// The service's name (`eligibility` …): its schema, its consumer group.
    pub name: &'static str,
    /// Listener settings (message size limits).
    pub server: ServerConfig,
    /// The service's own database schema.
    pub db: DatabaseConnection,
    /// Where its reads go: the replicas of `database.read_urls` when configured, else `db`
    /// (docs/architecture.md#read-replicas).
    pub reads: crate::db::ReadPool,
    /// Redis, when configured (absent in `kaigo dev`).
    pub redis: Option<RedisHandle>,
    /// Where the service's outbox relay publishes and its consumers read.
    pub bus: Bus,
    /// Background tasks that stop with the process.
    pub background: Background,
    /// What values cached outside the process are sealed with ([`crate::seal`]): the
    /// internal secret and, during a rotation, the previous one.
    pub seal: crate::seal::SealSecrets,
}

impl ServiceContext {
    /// Message size limit for generated servers.
    pub fn max_message_bytes(&self) -> usize {
        self.server.max_message_bytes
    }
}

/// Applies the configured message size limits to a generated tonic server.
#[macro_export]
macro_rules! limit_messages {
    ($server:expr, $ctx:expr) => {
        $server.max_decoding_message_size($ctx.max_message_bytes()).max_encoding_message_size($ctx.max_message_bytes())
    };
}

/// The running tasks, by name.
type TaskList = Arc<Mutex<Vec<(&'static str, JoinHandle<()>)>>>;

/// Background tasks of a process: each gets a signal that resolves on shutdown and is awaited
/// (up to a deadline) before the process exits, so buffered work (audit records, outbox rows)
/// is flushed rather than lost.
#[derive(Clone)]
pub struct Background {
    stop: watch::Receiver<bool>,
    handles: TaskList,
}

/// The owner's side of [`Background`]: stops and joins the tasks.
pub struct BackgroundControl {
    stop: watch::Sender<bool>,
    handles: TaskList,
}

/// Resolves when the process is shutting down.
#[derive(Clone)]
pub struct Stopping(watch::Receiver<bool>);

impl Stopping {
    /// Waits for shutdown.
    pub async fn wait(mut self) {
        // An error means the controller is gone, which also means shutdown.
        let _ = self.0.wait_for(|stopped| *stopped).await;
    }

    /// True once shutdown has begun.
    pub fn is_stopping(&self) -> bool {
        *self.0.borrow()
    }
}

impl Background {
    /// A new task set and its control.
    pub fn new() -> (BackgroundControl, Background) {
        let (tx, rx) = watch::channel(false);
        let handles = Arc::new(Mutex::new(Vec::new()));
        (BackgroundControl { stop: tx, handles: handles.clone() }, Background { stop: rx, handles })
    }

    /// Runs `task` until it returns; it receives the shutdown signal and should finish its
    /// current unit of work and return soon after it resolves.
    pub fn spawn<F, Fut>(&self, name: &'static str, task: F)
    where
        F: FnOnce(Stopping) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handle = tokio::spawn(task(Stopping(self.stop.clone())));
        self.handles.lock().push((name, handle));
    }

    /// The shutdown signal.
    pub fn stopping(&self) -> Stopping {
        Stopping(self.stop.clone())
    }
}

impl BackgroundControl {
    /// Signals shutdown and waits up to `deadline` for every task.
    pub async fn stop(self, deadline: Duration) {
        let _ = self.stop.send(true);
        let handles: Vec<_> = std::mem::take(&mut *self.handles.lock());
        let until = tokio::time::Instant::now() + deadline;
        for (name, handle) in handles {
            match tokio::time::timeout_at(until, handle).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => tracing::error!(task = name, error = %err, "background task failed"),
                Err(_) => tracing::warn!(task = name, "background task did not stop in time"),
            }
        }
    }
}

impl ServiceContext {
    /// Starts this service's outbox relay as a background task; it makes a last pass on
    /// shutdown so that nothing committed stays unpublished.
    pub fn spawn_outbox_relay(&self) -> crate::events::Relay {
        let relay =
            crate::events::Relay::new(self.db.clone(), self.bus.clone(), crate::events::RelayOptions::default());
        let running = relay.clone();
        self.background.spawn("outbox-relay", move |stopping| running.run(stopping.wait()));
        relay
    }
}
