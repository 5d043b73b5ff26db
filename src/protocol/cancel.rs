//! StopProvider support: every request gets a child of the current generation's token;
//! StopProvider cancels that generation and starts a fresh one, so requests already running are
//! cancelled while later ones (Terraform keeps the process after a Ctrl-C) run normally.

use std::sync::Mutex;

use tokio_util::sync::CancellationToken;

use super::diagnostics::Diagnostics;

#[derive(Debug, Default)]
pub struct StopGenerations {
    current: Mutex<CancellationToken>,
}

impl StopGenerations {
    pub fn new() -> Self {
        Self::default()
    }

    /// The token for a request starting now.
    pub fn request_token(&self) -> CancellationToken {
        self.current.lock().unwrap_or_else(|e| e.into_inner()).child_token()
    }

    /// Cancels every request started so far.
    pub fn stop(&self) {
        let previous = std::mem::take(&mut *self.current.lock().unwrap_or_else(|e| e.into_inner()));
        previous.cancel();
    }
}

/// The error a cancelled request returns.
pub fn cancelled() -> Diagnostics {
    Diagnostics::error(
        "Operation cancelled",
        "Terraform asked the provider to stop (for example after Ctrl-C) before this operation finished.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_cancels_only_earlier_requests() {
        let stops = StopGenerations::new();
        let first = stops.request_token();
        let second = stops.request_token();
        stops.stop();
        assert!(first.is_cancelled() && second.is_cancelled());
        let later = stops.request_token();
        assert!(!later.is_cancelled());
        stops.stop();
        assert!(later.is_cancelled());
        assert!(!stops.request_token().is_cancelled());
    }

    #[test]
    fn cancelled_is_an_error() {
        assert!(cancelled().has_errors());
        assert_eq!(cancelled().0[0].summary, "Operation cancelled");
    }
}
