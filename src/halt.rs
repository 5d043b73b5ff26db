//! Why a long operation stops: Terraform asked the provider to stop ([`Stop`]) or the
//! operation's deadline passed ([`Deadline`]). A small neutral type that the protocol layer,
//! the resources and the clients (hub, Route53) all use, so the clients need nothing from
//! `protocol`. Knows nothing of Terraform values, schemas or diagnostics.
//!
//! May import: nothing of this crate.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Cancellation of the calls in flight: StopProvider (Terraform's Ctrl-C) cancels it. Cheap to
/// clone; every clone sees the same stop.
#[derive(Clone, Debug, Default)]
pub struct Stop {
    cancel: CancellationToken,
}

impl Stop {
    pub fn new(cancel: CancellationToken) -> Self {
        Stop { cancel }
    }

    /// Resolves when Terraform asks the provider to stop (Ctrl-C): long waits select on it.
    pub fn cancelled(&self) -> tokio_util::sync::WaitForCancellationFuture<'_> {
        self.cancel.cancelled()
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

/// An operation a `timeouts` attribute bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Create,
    Read,
    Update,
    Delete,
}

impl Operation {
    /// The attribute name in the `timeouts` block.
    pub fn attribute(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Read => "read",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }

    pub fn gerund(self) -> &'static str {
        match self {
            Operation::Create => "creating",
            Operation::Read => "reading",
            Operation::Update => "updating",
            Operation::Delete => "deleting",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Operation::Create => "Create",
            Operation::Read => "Read",
            Operation::Update => "Update",
            Operation::Delete => "Delete",
        }
    }
}

/// `2s`, `1m30s`, `500ms`: the form users write.
pub fn format_duration(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let secs = ms / 1000;
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// When one operation must be over.
///
/// A deadline ends an operation the way StopProvider does: once it has passed no request and no
/// retry starts and no wait (backoff, INSYNC, finalizers) goes on; a read in flight is abandoned;
/// a write already sent runs to its answer (bounded by the client's own timeout), because a write
/// abandoned on the way may still land and Terraform would never hear of it.
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    pub operation: Operation,
    pub limit: Duration,
    pub at: Instant,
}

impl Deadline {
    /// A deadline `limit` from now.
    pub fn after(operation: Operation, limit: Duration) -> Deadline {
        Deadline { operation, limit, at: Instant::now() + limit }
    }

    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    pub fn passed(&self) -> bool {
        Instant::now() >= self.at
    }

    /// What to report once the deadline has passed.
    pub fn expired(&self) -> Expired {
        Expired { operation: self.operation, limit: self.limit }
    }

    /// Resolves when the deadline passes.
    pub async fn reached(&self) -> Expired {
        tokio::time::sleep_until(self.at).await;
        self.expired()
    }

    /// Runs the read `work` until it finishes or the deadline passes, whichever is first: a read
    /// cut short loses nothing.
    ///
    /// # Errors
    /// `work`'s own errors, or [`Expired`] (converted into `E`) when the deadline passed first.
    pub async fn run<T, E>(&self, work: impl Future<Output = Result<T, E>>) -> Result<T, E>
    where
        E: From<Expired>,
    {
        match tokio::time::timeout_at(self.at, work).await {
            Ok(result) => result,
            Err(_) => Err(self.expired().into()),
        }
    }
}

/// Why an operation stops starting requests: Terraform asked the provider to stop, or the
/// operation's deadline passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Halt {
    Stop,
    Deadline(Expired),
}

impl Halt {
    /// The halt that applies now, if any.
    pub fn now(ctx: &Stop, deadline: Option<&Deadline>) -> Option<Halt> {
        if ctx.is_cancelled() {
            return Some(Halt::Stop);
        }
        deadline.filter(|d| d.passed()).map(|d| Halt::Deadline(d.expired()))
    }

    /// Resolves at the stop or at the deadline, whichever comes first.
    pub async fn next(ctx: &Stop, deadline: Option<&Deadline>) -> Halt {
        let deadline = async {
            match deadline {
                Some(deadline) => deadline.reached().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = ctx.cancelled() => Halt::Stop,
            expired = deadline => Halt::Deadline(expired),
        }
    }
}

/// An operation's deadline passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} did not finish within {} (timeouts.{})", .operation.gerund(), format_duration(*.limit), .operation.attribute())]
pub struct Expired {
    pub operation: Operation,
    pub limit: Duration,
}
