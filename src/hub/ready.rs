//! Waiting until Argo CD reports a cluster ready: every Application that targets it Synced and
//! Healthy, compared with Git after our write.
//!
//! Two traps shape the loop. A status read right after a write may predate it and still say
//! Healthy, so only statuses Argo CD recorded after the API server's time of our write count;
//! and Argo CD compares an unchanged Application only every few minutes, so the wait asks for a
//! refresh of those still showing an older status. A Degraded Application or a failed sync ends
//! the wait once it has lasted the grace period, instead of sitting out the timeout.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use tokio::time::Instant;

use super::HubClient;
use super::HubError;
use crate::argocd::application::{Application, ClusterRef, Condition, Readiness, Requirements, assess};
use crate::halt::{Deadline, Halt, Stop};

/// How often the Applications are read while waiting.
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How long after a refresh request an Application that Argo CD has refreshed (the annotation
/// is gone) but that still shows a status older than the write is asked again: a comparison in
/// the write's own second cannot be told from one before it.
const REFRESH_AGAIN_AFTER: Duration = Duration::from_secs(1);

/// What to wait for.
#[derive(Clone, Debug)]
pub struct ReadyWait {
    pub cluster: ClusterRef,
    /// Where Applications may live: Argo CD's namespace, and more with apps in any namespace.
    pub namespaces: Vec<String>,
    pub requirements: Requirements,
    /// The API server's time of our write; `None` takes any status as current.
    pub written_at: Option<Timestamp>,
    /// How long an Application may stay Degraded or failed before the wait gives up.
    pub failure_grace: Duration,
    /// Ask Argo CD to compare Applications whose status predates the write.
    pub refresh: bool,
}

/// Why a wait ended without the cluster being ready.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error(transparent)]
    Hub(#[from] HubError),
    /// Applications stayed Degraded or failed for longer than the grace period.
    #[error(
        "Argo CD reports {} of cluster {cluster}'s Applications failing for more than {}:\n{}",
        failing.len(),
        crate::halt::format_duration(*grace),
        bullets(failing.iter().map(|(app, why)| format!("{app}: {why}")))
    )]
    Failing { cluster: String, failing: Vec<(String, String)>, grace: Duration },
    /// The deadline passed or Terraform asked the provider to stop first.
    #[error("{}; still not ready:\n{}", ended(halt, cluster), bullets(not_ready.iter().cloned()))]
    Unfinished { cluster: String, halt: Halt, not_ready: Vec<String> },
}

fn ended(halt: &Halt, cluster: &str) -> String {
    match halt {
        Halt::Stop => {
            format!("stopped waiting for cluster {cluster} to be ready: Terraform asked the provider to stop")
        }
        Halt::Deadline(expired) => format!(
            "cluster {cluster} was not ready within the {} timeout ({})",
            expired.operation.attribute(),
            crate::halt::format_duration(expired.limit)
        ),
    }
}

fn bullets(lines: impl Iterator<Item = String>) -> String {
    lines.map(|line| format!("  - {line}")).collect::<Vec<_>>().join("\n")
}

impl fmt::Display for ReadyWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cluster {}", self.cluster.name)
    }
}

impl HubClient {
    /// Waits until the cluster is ready, it fails, or `deadline` (or StopProvider) ends the wait.
    ///
    /// # Errors
    /// [`WaitError::Failing`] for Applications failing past the grace period,
    /// [`WaitError::Unfinished`] at the deadline or the stop (naming what was not ready), and
    /// the hub's errors reading Applications (a missing CRD, RBAC).
    pub async fn wait_until_ready(
        &self,
        ctx: &Stop,
        deadline: &Deadline,
        wait: &ReadyWait,
    ) -> Result<Readiness, WaitError> {
        let cluster = wait.cluster.name.clone();
        let mut refresh = wait.refresh;
        let mut refreshed: HashMap<String, Instant> = HashMap::new();
        let mut failing_since: HashMap<String, Instant> = HashMap::new();
        let mut last = None::<Readiness>;
        loop {
            let apps = match self.cluster_applications_now(ctx, deadline, &wait.namespaces, &wait.cluster).await {
                Ok(apps) => apps,
                Err(e) if e.halted() => return Err(unfinished(&cluster, ctx, deadline, last)),
                Err(e) => return Err(e.into()),
            };
            let judged: Vec<&Application> = apps.iter().collect();
            let readiness = assess(&judged, &wait.requirements, wait.written_at);
            if readiness.ready {
                return Ok(readiness);
            }
            crate::tf_debug!("waiting for cluster", cluster = cluster, not_ready = readiness.not_ready.join("; "));

            if refresh {
                let stale = apps.iter().filter(|app| {
                    matches!(app.condition(wait.written_at), Condition::Waiting(_))
                        && !app.refresh_pending()
                        && wait.written_at.is_some_and(|w| app.reconciled_at().is_none_or(|r| r <= w))
                });
                for app in stale {
                    let id = format!("{}/{}", app.namespace(), app.name());
                    if refreshed.get(&id).is_some_and(|at| at.elapsed() < REFRESH_AGAIN_AFTER) {
                        continue;
                    }
                    match self.applications(app.namespace()).until(*deadline).request_refresh(ctx, app.name()).await {
                        Ok(()) => {
                            refreshed.insert(id, Instant::now());
                        }
                        Err(e) if e.halted() => return Err(unfinished(&cluster, ctx, deadline, Some(readiness))),
                        Err(e) if e.is_not_found() => {}
                        // Without the right to annotate, Argo CD still compares on its own period.
                        Err(e) => {
                            crate::tf_warn!("cannot ask Argo CD to refresh Applications", error = e.to_string());
                            refresh = false;
                            break;
                        }
                    }
                }
            }

            let now = Instant::now();
            failing_since.retain(|app, _| readiness.failing.iter().any(|(failing, _)| failing == app));
            for (app, _) in &readiness.failing {
                failing_since.entry(app.clone()).or_insert(now);
            }
            let past_grace: Vec<(String, String)> = readiness
                .failing
                .iter()
                .filter(|(app, _)| failing_since.get(app).is_some_and(|since| now - *since >= wait.failure_grace))
                .cloned()
                .collect();
            if !past_grace.is_empty() {
                return Err(WaitError::Failing { cluster, failing: past_grace, grace: wait.failure_grace });
            }

            last = Some(readiness);
            tokio::select! {
                () = tokio::time::sleep(POLL_INTERVAL) => {}
                _ = Halt::next(ctx, Some(deadline)) => return Err(unfinished(&cluster, ctx, deadline, last)),
            }
        }
    }
}

fn unfinished(cluster: &str, ctx: &Stop, deadline: &Deadline, last: Option<Readiness>) -> WaitError {
    let halt = Halt::now(ctx, Some(deadline)).unwrap_or(Halt::Deadline(deadline.expired()));
    let not_ready = last.map(|r| r.not_ready).unwrap_or_else(|| vec!["the Applications were not read yet".into()]);
    WaitError::Unfinished { cluster: cluster.to_string(), halt, not_ready }
}
