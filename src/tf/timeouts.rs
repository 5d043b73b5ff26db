//! The `timeouts` block every resource and data source has, and the deadline it sets for one
//! operation.
//!
//! A deadline bounds a whole operation: every request, every retry and every wait (INSYNC,
//! finalizers). Retry loops look at it too, so that they give up with the last answer they got
//! instead of sleeping past it. When it passes, the operation ends as on StopProvider (see
//! [`Deadline`]) and the error names the operation, the object and the `timeouts` attribute to
//! raise.

use std::time::Duration;

pub use crate::halt::{Deadline, Expired, Halt, Operation, format_duration};
use crate::protocol::{ApplyError, Attribute, AttributePath, Block, Context, Diagnostics, NestedBlock, Type, Value};
use crate::tf::values as tf_values;

/// The note on a resource's read timeout: an import reads before the configuration's timeouts
/// are in state.
pub const READ_NOTE: &str = "An import always uses the default: its state holds no timeouts yet.";

/// The longest timeout accepted: a week.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

/// One operation's timeout when the `timeouts` block does not set it.
#[derive(Clone, Copy, Debug)]
pub struct Timeout {
    pub operation: Operation,
    pub default: Duration,
    /// A sentence more for the attribute's description, e.g. what else the operation waits for.
    pub note: &'static str,
}

impl Timeout {
    pub const fn new(operation: Operation, default: Duration) -> Timeout {
        Timeout { operation, default, note: "" }
    }

    /// The same, with a sentence more in its description.
    pub const fn noting(self, note: &'static str) -> Timeout {
        Timeout { note, ..self }
    }
}

/// The operations a resource or data source has, each with its default timeout.
pub type Defaults = &'static [Timeout];

// ---------------------------------------------------------------------------------------------
// Durations

/// Parses a duration the way Terraform users write them: `90s`, `10m`, `1h30m`, `500ms`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (Duration::from_millis(1), 2)
        } else {
            match rest.chars().next()? {
                'h' => (Duration::from_secs(3600), 1),
                'm' => (Duration::from_secs(60), 1),
                's' => (Duration::from_secs(1), 1),
                _ => return None,
            }
        };
        rest = &rest[len..];
        total = total.checked_add(unit.checked_mul(u32::try_from(n).ok()?)?)?;
    }
    Some(total)
}

// ---------------------------------------------------------------------------------------------
// Schema and validation

/// The `timeouts` block for these operations.
pub fn block(defaults: Defaults) -> NestedBlock {
    let writes = defaults.iter().any(|t| t.operation != Operation::Read);
    let mut block = Block::new(if writes {
        "How long each operation may take, retries and waits included, e.g. `30s`, `10m` or `1h30m`. When one \
         passes, no request or retry starts any more and waits (INSYNC, finalizers) end; a read still waiting is \
         dropped, but a write already sent is finished, never abandoned (each request waits at most the hub's \
         `request_timeout` or Route53's attempt timeout of 60s). If that write succeeded and nothing else was left \
         to do, the operation succeeds with a warning; otherwise it fails with an error naming the operation, the \
         object and the timeout to raise, and the state records what was written (as planned when the write's \
         answer was lost, so that the next plan finds out what exists)."
    } else {
        "How long reading may take, retries included, e.g. `30s`, `10m` or `1h30m`. When it passes, the read is \
         dropped and fails with an error naming the timeout to raise."
    });
    for timeout in defaults {
        let description = format!(
            "How long {} may take (default `{}`).{}{}",
            timeout.operation.gerund(),
            format_duration(timeout.default),
            if timeout.note.is_empty() { "" } else { " " },
            timeout.note,
        );
        block = block.attribute(Attribute::optional(timeout.operation.attribute(), Type::String, &description));
    }
    NestedBlock::at_most_one("timeouts", block)
}

/// Checks each known duration of the `timeouts` block, each error on its attribute.
pub fn validate(config: &Value, defaults: Defaults, diags: &mut Diagnostics) {
    let Some(timeouts) = tf_values::block(config.get("timeouts")) else { return };
    for operation in defaults.iter().map(|t| t.operation) {
        let Some(text) = timeouts.get(operation.attribute()).as_str() else { continue };
        let (summary, problem) = match parse_duration(text) {
            None => ("Invalid duration", format!("{text:?} is not a duration like \"90s\", \"10m\" or \"1h30m\".")),
            Some(d) if d.is_zero() => {
                ("Invalid timeout", format!("{text:?} leaves no time at all; give a duration above zero."))
            }
            Some(d) if d > MAX_TIMEOUT => {
                ("Invalid timeout", format!("{text:?} is longer than the longest timeout, 168h (a week)."))
            }
            Some(_) => continue,
        };
        diags.push_error(Some(AttributePath::root("timeouts").index(0).attr(operation.attribute())), summary, problem);
    }
}

/// The timeout `value` (a configuration, plan or state) sets for `operation`, else its default.
pub fn timeout(value: &Value, defaults: Defaults, operation: Operation) -> Duration {
    let default = defaults.iter().find(|t| t.operation == operation).map_or(MAX_TIMEOUT, |t| t.default);
    tf_values::block(value.get("timeouts"))
        .and_then(|t| t.get(operation.attribute()).as_str())
        .and_then(parse_duration)
        .filter(|d| !d.is_zero())
        .map_or(default, |d| d.min(MAX_TIMEOUT))
}

/// True when `prior` and `planned` differ in nothing but `timeouts`: an update with nothing to
/// send.
pub fn only_timeouts_changed(prior: &Value, planned: &Value) -> bool {
    let without = |v: &Value| {
        let mut v = v.clone();
        v.set("timeouts", Value::Null);
        v
    };
    without(prior) == without(planned)
}

// ---------------------------------------------------------------------------------------------
// Deadlines

impl Deadline {
    /// The deadline `value`'s `timeouts` block (or the default) sets for `operation`, from now.
    pub fn start(value: &Value, defaults: Defaults, operation: Operation) -> Deadline {
        Deadline::after(operation, timeout(value, defaults, operation))
    }

    /// Warns that `object`'s operation succeeded only after its deadline: the write was in flight
    /// when the deadline passed, and a write is finished rather than abandoned.
    pub fn warn_if_passed(&self, ctx: &Context, object: &str) {
        if !self.passed() {
            return;
        }
        let attribute = format!("timeouts.{}", self.operation.attribute());
        ctx.warn(
            None,
            format!("{} took longer than {attribute}", self.operation.title()),
            format!(
                "{} {object} took longer than {} ({attribute}): its write was on the way when the deadline passed, \
                 and a write is finished rather than abandoned. It succeeded and the state records it. Raise \
                 {attribute} if this is the usual pace.",
                capitalized(self.operation.gerund()),
                format_duration(self.limit),
            ),
        );
    }
}

/// What was still to do when an operation's deadline passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unfinished {
    /// A read got no answer in time and was abandoned.
    NoAnswer,
    /// Requests kept failing and one more attempt would start after the deadline. `last` is the
    /// last answer; `maybe_written`: an attempt of a write got no answer or a 5xx, so the write
    /// may have been carried out.
    Retries { last: String, maybe_written: bool },
    /// The deadline passed before the write was sent.
    NotSent,
    /// The write went through; a wait for what follows it (Route53's INSYNC) was cut short.
    Wait(String),
}

impl Expired {
    /// The diagnostic for `object` on `service` (`the hub`, `Route53`): what was unfinished, what
    /// the state now holds, and what to do.
    pub fn diagnostics(&self, object: &str, service: &str, unfinished: &Unfinished) -> Diagnostics {
        let attribute = format!("timeouts.{}", self.operation.attribute());
        let title = capitalized(service);
        let writes = self.operation != Operation::Read;
        let what = match unfinished {
            Unfinished::NoAnswer => format!("{title} did not answer in time."),
            Unfinished::Retries { last, maybe_written } => {
                let state = match (writes, *maybe_written) {
                    (false, _) => "",
                    (true, false) => "Nothing was written.",
                    (true, true) => ApplyError::UNCERTAIN,
                };
                let space = if state.is_empty() { "" } else { " " };
                format!(
                    "{title} kept failing, and one more attempt would pass the deadline; its last answer: \
                     {last}.{space}{state}"
                )
            }
            Unfinished::NotSent => "The time ran out before the write was sent: nothing was written.".to_string(),
            Unfinished::Wait(what) => format!("{what}. The state records the change."),
        };
        let advice = match self.operation {
            Operation::Read => {
                format!("Check that {service} is reachable and healthy, or raise {attribute} if it is only slow.")
            }
            Operation::Delete => format!(
                "Once {service} is healthy, run terraform destroy (or apply) again, which picks up from what is left. \
                 Raise {attribute} if {service} is only slow."
            ),
            _ => format!(
                "Once {service} is healthy, run terraform apply again, which picks up from what exists. Raise \
                 {attribute} if {service} is only slow."
            ),
        };
        Diagnostics::error(
            format!("{} timed out", self.operation.title()),
            format!(
                "{} {object} did not finish within {} ({attribute}). {what} {advice}",
                capitalized(self.operation.gerund()),
                format_duration(self.limit),
            ),
        )
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

#[cfg(test)]
mod tests {
    use tokio::time::Instant;

    use super::*;

    const DEFAULTS: Defaults = &[
        Timeout::new(Operation::Create, Duration::from_secs(300)),
        Timeout::new(Operation::Delete, Duration::from_secs(60)),
    ];

    #[test]
    fn durations_parse_and_print_like_terraform_users_write_them() {
        let cases = [
            ("90s", Some(90_000)),
            ("10m", Some(600_000)),
            ("1h30m", Some(5_400_000)),
            ("500ms", Some(500)),
            ("1m500ms", Some(60_500)),
            ("0s", Some(0)),
            ("", None),
            ("10", None),
            ("m", None),
            ("1.5h", None),
            ("-1s", None),
            ("10 m", None),
            ("3d", None),
        ];
        for (text, ms) in cases {
            assert_eq!(parse_duration(text).map(|d| d.as_millis() as u64), ms, "{text:?}");
        }
        for (ms, text) in [(2_000, "2s"), (90_000, "1m30s"), (3_600_000, "1h"), (1_500, "1500ms"), (0, "0s")] {
            assert_eq!(format_duration(Duration::from_millis(ms)), text);
            assert_eq!(parse_duration(text), Some(Duration::from_millis(ms)));
        }
    }

    fn with_timeouts(pairs: Vec<(&str, Value)>) -> Value {
        Value::object([("timeouts", Value::List(vec![Value::object(pairs)]))])
    }

    #[test]
    fn each_bad_timeout_is_reported_on_its_attribute() {
        let config = with_timeouts(vec![
            ("create", Value::from("5 minutes")),
            ("delete", Value::from("0s")),
            ("read", Value::from("nonsense, but not an attribute here")),
        ]);
        let mut diags = Diagnostics::new();
        validate(&config, DEFAULTS, &mut diags);
        let at: Vec<String> = diags.0.iter().filter_map(|d| d.attribute.as_ref().map(ToString::to_string)).collect();
        assert_eq!(at, ["timeouts[0].create", "timeouts[0].delete"]);

        let mut diags = Diagnostics::new();
        validate(
            &with_timeouts(vec![("create", Value::from("200h")), ("delete", Value::Unknown)]),
            DEFAULTS,
            &mut diags,
        );
        assert_eq!(diags.0.len(), 1);
        assert!(diags.0[0].detail.contains("168h"), "{:?}", diags.0[0]);
    }

    #[test]
    fn timeouts_come_from_the_block_or_the_defaults() {
        let config = with_timeouts(vec![("create", Value::from("2s")), ("delete", Value::Null)]);
        assert_eq!(timeout(&config, DEFAULTS, Operation::Create), Duration::from_secs(2));
        assert_eq!(timeout(&config, DEFAULTS, Operation::Delete), Duration::from_secs(60));
        assert_eq!(timeout(&Value::Null, DEFAULTS, Operation::Create), Duration::from_secs(300));
    }

    #[test]
    fn an_update_of_timeouts_alone_is_recognised() {
        let prior = Value::object([("name", Value::from("a")), ("timeouts", Value::List(vec![]))]);
        let planned = Value::object([
            ("name", Value::from("a")),
            ("timeouts", Value::List(vec![Value::object([("create", Value::from("1m"))])])),
        ]);
        assert!(only_timeouts_changed(&prior, &planned));
        let renamed = Value::object([("name", Value::from("b")), ("timeouts", Value::List(vec![]))]);
        assert!(!only_timeouts_changed(&prior, &renamed));
    }

    #[test]
    fn the_expiry_names_operation_object_timeout_what_the_state_holds_and_what_to_do() {
        let create = Expired { operation: Operation::Create, limit: Duration::from_secs(2) };
        let d = &create.diagnostics("Secret argocd/eks-a", "the hub", &Unfinished::NoAnswer).0[0];
        assert_eq!(d.summary, "Create timed out");
        assert_eq!(
            d.detail,
            "Creating Secret argocd/eks-a did not finish within 2s (timeouts.create). The hub did not answer in time. \
             Once the hub is healthy, run terraform apply again, which picks up from what exists. Raise \
             timeouts.create if the hub is only slow."
        );
        let retries = |maybe_written| Unfinished::Retries { last: "the hub answered 500".into(), maybe_written };
        let unsure = &create.diagnostics("Secret argocd/eks-a", "the hub", &retries(true)).0[0];
        assert!(unsure.detail.contains("its last answer: the hub answered 500. The write may have been carried out"));
        let sure = &create.diagnostics("Secret argocd/eks-a", "the hub", &retries(false)).0[0];
        assert!(sure.detail.contains("its last answer: the hub answered 500. Nothing was written."), "{}", sure.detail);

        let read = Expired { operation: Operation::Read, limit: Duration::from_millis(1500) };
        let last = Unfinished::Retries { last: "503 ServiceUnavailable".into(), maybe_written: false };
        let d = &read.diagnostics("weighted records of a.example.com", "Route53", &last).0[0];
        assert_eq!(d.summary, "Read timed out");
        assert!(d.detail.starts_with("Reading weighted records of a.example.com did not finish within 1500ms (timeouts.read). Route53 kept failing"), "{}", d.detail);
        assert!(d.detail.contains("its last answer: 503 ServiceUnavailable. Check"), "{}", d.detail);
        assert!(d.detail.ends_with("or raise timeouts.read if it is only slow."), "{}", d.detail);
    }

    #[tokio::test]
    async fn a_halt_is_the_stop_or_the_deadline_whichever_comes_first() {
        let stop = tokio_util::sync::CancellationToken::new();
        let ctx = Context::new(stop.clone(), Default::default());
        let far = Deadline::after(Operation::Create, Duration::from_secs(600));
        assert_eq!(Halt::now(&ctx, Some(&far)), None);
        let near = Deadline::after(Operation::Create, Duration::from_millis(20));
        assert_eq!(Halt::next(&ctx, Some(&near)).await, Halt::Deadline(near.expired()));
        assert_eq!(Halt::now(&ctx, Some(&near)), Some(Halt::Deadline(near.expired())));
        stop.cancel();
        assert_eq!(Halt::now(&ctx, Some(&near)), Some(Halt::Stop));
        assert_eq!(Halt::next(&ctx, None).await, Halt::Stop);
    }

    #[test]
    fn a_late_success_warns_only_once_the_deadline_has_passed() {
        let ctx = Context::default();
        Deadline::after(Operation::Create, Duration::from_secs(600)).warn_if_passed(&ctx, "Secret argocd/a");
        assert!(ctx.take_warnings().0.is_empty());
        let passed = Deadline { at: Instant::now(), ..Deadline::after(Operation::Update, Duration::from_secs(3)) };
        passed.warn_if_passed(&ctx, "Secret argocd/a");
        let warnings = ctx.take_warnings();
        assert_eq!(warnings.0[0].summary, "Update took longer than timeouts.update");
        assert!(warnings.0[0].detail.starts_with("Updating Secret argocd/a took longer than 3s (timeouts.update)"));
    }

    #[tokio::test]
    async fn run_gives_up_at_the_deadline() {
        #[derive(Debug, PartialEq)]
        struct Gone(Expired);
        impl From<Expired> for Gone {
            fn from(e: Expired) -> Self {
                Gone(e)
            }
        }
        let deadline = Deadline::after(Operation::Update, Duration::from_millis(50));
        let slow = deadline.run(async {
            tokio::time::sleep(Duration::from_secs(600)).await;
            Ok::<_, Gone>(())
        });
        assert_eq!(slow.await, Err(Gone(Expired { operation: Operation::Update, limit: Duration::from_millis(50) })));
        let deadline = Deadline::after(Operation::Update, Duration::from_secs(2));
        assert_eq!(deadline.run(async { Ok::<_, Gone>(7) }).await, Ok(7));
    }
}
