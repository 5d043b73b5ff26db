//! Panics never reach Terraform as a dropped connection ("plugin did not respond"): every RPC
//! body runs under [`catch_panic`], and the process-wide hook logs a panic as one JSON line
//! instead of the default message and backtrace.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;

use super::diagnostics::Diagnostics;
use super::log::{self, Level};

/// The summary of the diagnostic a panic becomes.
pub const PANIC_SUMMARY: &str = "The provider hit an internal error";

/// Runs a future, turning a panic inside it into an error diagnostic.
pub async fn catch_panic<T>(future: impl Future<Output = T>) -> Result<T, Diagnostics> {
    AssertUnwindSafe(future).catch_unwind().await.map_err(|payload| panic_diagnostics(payload.as_ref()))
}

pub fn panic_diagnostics(payload: &(dyn Any + Send)) -> Diagnostics {
    Diagnostics::error(
        PANIC_SUMMARY,
        format!(
            "{}\n\nThis is a bug in the provider; please report it. The operation did not finish and \
             the remote object may need checking.",
            panic_message(payload)
        ),
    )
}

/// The text a panic was raised with, when it has one.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-text payload".to_string()
    }
}

/// Replaces the default panic output (message plus backtrace, as `RUST_BACKTRACE=1` asks) with
/// one error log line naming the message and the location.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(|l| format!("{}:{}", l.file(), l.line()));
        log::emit(
            Level::Error,
            "panic",
            &[("message", log::field(&panic_message(info.payload()))), ("location", log::field(&location))],
        );
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn panics_become_diagnostics() {
        let ok = catch_panic(async { 5 }).await;
        assert_eq!(ok, Ok(5));
        let err = catch_panic(async {
            if true {
                panic!("boom {}", 42);
            }
        })
        .await
        .unwrap_err();
        assert_eq!(err.0[0].summary, PANIC_SUMMARY);
        assert!(err.0[0].detail.starts_with("boom 42"));
        assert!(!err.0[0].detail.contains("backtrace"));
    }

    #[test]
    fn static_and_owned_messages_are_read() {
        assert_eq!(panic_message(&"static"), "static");
        assert_eq!(panic_message(&String::from("owned")), "owned");
        assert_eq!(panic_message(&7u8), "panic with a non-text payload");
    }
}
