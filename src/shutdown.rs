//! One shutdown signal and task tracking shared by every server (tracker,
//! DHT node, seeder), so a command stops everything at once and returns only
//! when every task has ended.
//!
//! Servers take a [`Shutdown`], spawn their tasks through it, and stop
//! reading sockets when [`Shutdown::cancelled`] completes. The owner calls
//! [`Shutdown::trigger`] and then awaits [`Shutdown::finished`].

use std::future::Future;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A cloneable handle: every clone sees the same signal and task set.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    token: CancellationToken,
    tasks: TaskTracker,
}

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every task to stop.
    pub fn trigger(&self) {
        self.token.cancel();
    }

    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Completes once [`Shutdown::trigger`] has been called.
    pub async fn cancelled(&self) {
        self.token.cancelled().await;
    }

    /// Spawns a task that [`Shutdown::finished`] waits for.
    pub fn spawn<F>(&self, task: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tasks.spawn(task)
    }

    /// Triggers shutdown and waits until every spawned task has returned.
    pub async fn finished(&self) {
        self.trigger();
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// Triggers on SIGINT or SIGTERM (Ctrl-C elsewhere). Spawned on the
    /// runtime by long-running commands; tests trigger directly instead.
    pub async fn trigger_on_signals(self) {
        tokio::select! {
            () = signalled() => self.trigger(),
            () = self.cancelled() => {},
        }
    }
}

/// Completes on SIGINT or SIGTERM (Ctrl-C elsewhere). For owners that must
/// do work (save state, say goodbye to trackers) before triggering.
pub async fn signalled() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = term.recv() => {},
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// SIGHUP, as a stream (never fires elsewhere).
pub fn hangups() -> tokio::sync::mpsc::Receiver<()> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    #[cfg(unix)]
    if let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                let _ = tx.try_send(());
            }
        });
    }
    #[cfg(not(unix))]
    drop(tx);
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn finished_waits_for_every_task() {
        let shutdown = Shutdown::new();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for _ in 0..3 {
            let (shutdown2, done) = (shutdown.clone(), done.clone());
            shutdown.spawn(async move {
                shutdown2.cancelled().await;
                tokio::task::yield_now().await;
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
        shutdown.finished().await;
        assert_eq!(done.load(std::sync::atomic::Ordering::SeqCst), 3);
        assert!(shutdown.is_triggered());
    }
}
