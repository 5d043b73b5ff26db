//! Waiting out a deletion the API server accepted but finalizers still hold: Argo CD's
//! `resources-finalizer.argocd.argoproj.io` keeps an ApplicationSet or Application until the
//! resources it deployed are gone.

use std::future::Future;
use std::time::Duration;

use super::HubError;
use crate::halt::Stop;

/// The first pause between two probes; it doubles up to [`POLL_MAX`].
const POLL_FIRST: Duration = Duration::from_millis(50);
const POLL_MAX: Duration = Duration::from_secs(2);

/// Polls `probe` (the finalizers of the object, or `None` once it is gone) with growing pauses,
/// from `finalizers` as the accepted deletion left them, until the object is gone, `deadline`
/// passes, or Terraform asks us to stop. A probe that the deadline or the stop cuts short leaves
/// the finalizers seen last.
///
/// # Errors
/// [`WaitError::TimedOut`] with the finalizers still present at the deadline;
/// [`WaitError::Stopped`] on StopProvider; the probe's other errors as they are.
pub async fn wait_until_gone<F, Fut>(
    stop: &Stop,
    deadline: tokio::time::Instant,
    mut finalizers: Vec<String>,
    mut probe: F,
) -> Result<(), WaitError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<Vec<String>>, HubError>>,
{
    let mut pause = POLL_FIRST;
    loop {
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Err(WaitError::TimedOut(finalizers));
        }
        tokio::select! {
            () = tokio::time::sleep(pause.min(deadline - now)) => {}
            () = stop.cancelled() => return Err(WaitError::Stopped(finalizers)),
        }
        finalizers = match probe().await {
            Ok(Some(seen)) => seen,
            Ok(None) => return Ok(()),
            Err(HubError::Cancelled) => return Err(WaitError::Stopped(finalizers)),
            Err(HubError::TimedOut { .. }) => return Err(WaitError::TimedOut(finalizers)),
            Err(e) => return Err(e.into()),
        };
        pause = (pause * 2).min(POLL_MAX);
    }
}

/// Why waiting for a deletion ended without the object gone.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("finalizers still present: {0:?}")]
    TimedOut(Vec<String>),
    /// Terraform asked the provider to stop; the finalizers last seen.
    #[error("stopped while waiting")]
    Stopped(Vec<String>),
    #[error(transparent)]
    Hub(#[from] HubError),
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use tokio::time::Instant;
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::halt::{Deadline, Operation};

    fn finalizers() -> Vec<String> {
        vec!["resources-finalizer.argocd.argoproj.io".to_string()]
    }

    fn stop() -> Stop {
        Stop::new(CancellationToken::new())
    }

    #[tokio::test]
    async fn waits_until_the_object_is_gone() {
        let polls = AtomicU32::new(0);
        let probe = || async {
            let n = polls.fetch_add(1, Ordering::SeqCst);
            Ok((n < 3).then(finalizers))
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        wait_until_gone(&stop(), deadline, finalizers(), probe).await.unwrap();
        assert_eq!(polls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn the_timeout_names_the_finalizers_still_present() {
        let probe = || async { Ok(Some(finalizers())) };
        let deadline = Instant::now() + Duration::from_millis(120);
        let err = wait_until_gone(&stop(), deadline, vec![], probe).await.unwrap_err();
        assert!(matches!(err, WaitError::TimedOut(ref f) if *f == finalizers()), "{err:?}");

        // A deadline already passed when the deletion was accepted: no poll at all.
        let polls = AtomicU32::new(0);
        let probe = || async {
            polls.fetch_add(1, Ordering::SeqCst);
            Ok(None)
        };
        let err = wait_until_gone(&stop(), Instant::now(), finalizers(), probe).await.unwrap_err();
        assert!(matches!(err, WaitError::TimedOut(ref f) if *f == finalizers()), "{err:?}");
        assert_eq!(polls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_probe_cut_short_by_the_deadline_reports_the_finalizers_seen_last() {
        let probe = || async {
            Err(HubError::TimedOut {
                object: "ApplicationSet argocd/stuck".into(),
                expired: Deadline::after(Operation::Delete, Duration::from_secs(1)).expired(),
            })
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        let err = wait_until_gone(&stop(), deadline, finalizers(), probe).await.unwrap_err();
        let WaitError::TimedOut(seen) = err else { panic!("{err:?}") };
        assert_eq!(seen, finalizers());
    }

    #[tokio::test]
    async fn the_wait_gives_way_to_stop() {
        let token = CancellationToken::new();
        let stopped = Stop::new(token.clone());
        token.cancel();
        let probe = || async { Ok(Some(vec![])) };
        let deadline = Instant::now() + Duration::from_secs(600);
        let err = wait_until_gone(&stopped, deadline, finalizers(), probe).await.unwrap_err();
        assert!(matches!(err, WaitError::Stopped(ref f) if *f == finalizers()), "{err:?}");

        // The probe itself refuses to ask the hub after the stop.
        let token = CancellationToken::new();
        let stopping = Stop::new(token.clone());
        let probe = || async {
            token.cancel();
            Err(HubError::Cancelled)
        };
        let err = wait_until_gone(&stopping, deadline, finalizers(), probe).await.unwrap_err();
        assert!(matches!(err, WaitError::Stopped(ref f) if *f == finalizers()), "{err:?}");
    }
}
