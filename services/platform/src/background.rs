//! How a process runs background work (event consumers, cache invalidation, audit flushing,
//! replica health checks) that ends cleanly on shutdown. A leaf module: the service context,
//! the read pool and the audit writer all stand on it, and it on none of them.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::task::JoinHandle;

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
