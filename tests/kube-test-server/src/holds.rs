//! Held requests: a request (or its answer) waits until the test releases it, so a test can act
//! while the request is in flight: stop the client, kill it, or let others catch up.
//!
//! Used by the fault actions `hold` and `holdAnswer`, and usable by other test doubles.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::http::lock;

/// Requests waiting for [`Holds::release`].
pub struct Holds {
    held: Mutex<usize>,
    changed: Condvar,
    releases: watch::Sender<u64>,
}

impl Default for Holds {
    fn default() -> Holds {
        Holds { held: Mutex::new(0), changed: Condvar::new(), releases: watch::Sender::new(0) }
    }
}

impl Holds {
    /// Waits until the next [`Holds::release`]. Counts as held meanwhile, and stops counting when
    /// the caller gives up (its client went away).
    pub async fn hold(&self) {
        let mut releases = self.releases.subscribe();
        let _counted = Counted::new(self);
        // Err only when the sender is gone, which cannot outlive `self`.
        let _ = releases.changed().await;
    }

    /// How many requests are held now.
    pub fn held(&self) -> usize {
        *lock(&self.held)
    }

    /// Blocks the calling thread until at least `count` requests are held; false when `timeout`
    /// passes first.
    pub fn wait_for_held(&self, count: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut held = lock(&self.held);
        while *held < count {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            held = self.changed.wait_timeout(held, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        true
    }

    /// Lets every request held now go on; requests held later wait for the next release.
    pub fn release(&self) {
        self.releases.send_modify(|generation| *generation += 1);
    }

    fn add(&self, delta: isize) {
        let mut held = lock(&self.held);
        *held = held.saturating_add_signed(delta);
        self.changed.notify_all();
    }
}

/// One held request, counted while it lives.
struct Counted<'a>(&'a Holds);

impl<'a> Counted<'a> {
    fn new(holds: &'a Holds) -> Self {
        holds.add(1);
        Counted(holds)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.add(-1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn held_requests_wait_for_the_release_and_are_counted() {
        let holds = Arc::new(Holds::default());
        let waiting: Vec<_> = (0..3)
            .map(|_| {
                let holds = holds.clone();
                tokio::spawn(async move { holds.hold().await })
            })
            .collect();
        let counter = holds.clone();
        assert!(tokio::task::spawn_blocking(move || counter.wait_for_held(3, Duration::from_secs(10))).await.unwrap());
        assert!(waiting.iter().all(|w| !w.is_finished()));
        holds.release();
        for w in waiting {
            w.await.unwrap();
        }
        assert_eq!(holds.held(), 0);

        // A holder that gives up stops counting.
        let gone = tokio::spawn({
            let holds = holds.clone();
            async move { holds.hold().await }
        });
        let counter = holds.clone();
        assert!(tokio::task::spawn_blocking(move || counter.wait_for_held(1, Duration::from_secs(10))).await.unwrap());
        gone.abort();
        let _ = gone.await;
        assert_eq!(holds.held(), 0);
        assert!(!holds.wait_for_held(1, Duration::from_millis(1)));
    }
}
