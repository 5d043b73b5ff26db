//! The `rollout` block of `gitopsbridge_traffic_split`: an update that changes the weights moves
//! the traffic share of the gaining members through each step (see [`crate::route53::rollout`]
//! for the arithmetic), one change batch per step, then to the configured weights.
//!
//! Each intermediate batch waits for INSYNC, then the pause, then the readiness gate of every
//! gated member that gains traffic. A gate that closes restores the weights the apply started
//! from in one batch (never gated) and fails naming the step. The stop (Ctrl-C) or the update
//! timeout ends the rollout after the batch in flight: the state records the weights that are
//! live, so the next apply continues from there. A create is never stepped (nobody gets
//! answers from the set yet, so there is no traffic to move gradually), nor is a delete.

use std::time::Duration;

use crate::halt::{Deadline, Halt, Stop};
use crate::hub::gate::ReadinessSource;
use crate::protocol::{Attribute, AttributePath, Block, Diagnostics, NestedBlock, Type, Value};
use crate::route53::rollout::{self as steps, Member, Step};
use crate::route53::{RecordSet, Route53, weighted_set};
use crate::tf::route53_records::{Apply, RouteError, SendError};
use crate::tf::timeouts::{self, Defaults, Operation, Unfinished, format_duration, parse_duration};
use crate::tf::traffic_gate::{self, Gate};
use crate::tf::values as tf_values;

pub const BLOCK: &str = "rollout";
/// The computed attribute that shows the steps in the plan.
pub const PLAN: &str = "rollout_plan";

pub fn block() -> NestedBlock {
    NestedBlock::at_most_one(
        BLOCK,
        Block::new(
            "Move traffic in steps: an update that changes the weights first moves the members that gain share \
             (percent of all traffic) through each step, then to the configured weights. At step `p` every member's \
             share has gone the same fraction of the way from its starting share to its configured share, the \
             fraction at which the gaining members together carry `p` %; the step's weights are those shares in \
             whole percents (summing to 100, each group rounded by largest remainder, ties to the earlier route). \
             Steps at or below the gainers' starting share or at or above their configured share are skipped, and \
             a change that moves no share (every weight doubled) has none. Each step is one change batch, waits \
             for INSYNC, then `pause`, then checks the `require_ready` gate of every gated route that gains \
             traffic: a closed gate restores the weights the apply started from in one batch and fails naming \
             the step. Ctrl-C or the update timeout stops after the batch in flight; the state records the live \
             weights, and the next apply continues from there. Creating and destroying the set are never \
             stepped; other changes of a route (records, health check) go out with the first step.",
        )
        .attribute(Attribute::required(
            "steps",
            Type::list(Type::Number),
            "The gaining members' combined share of traffic at each step, in percent: whole numbers 1–99, strictly \
             increasing, e.g. `[10, 50]`.",
        ))
        .attribute(Attribute::required(
            "pause",
            Type::String,
            "How long to wait after each step is INSYNC before checking the gates and going on, e.g. `2m`. Every \
             pause of a rollout together must be shorter than the `update` timeout.",
        )),
    )
}

pub fn plan_attribute() -> Attribute {
    Attribute::computed(
        PLAN,
        Type::list(Type::String),
        "The change batches a stepped update sends, in order, each as `step i of n (share % to gainers): \
         set_identifier = weight, …`; the last is the configured weights. Empty when the change is one batch \
         (no `rollout` block, a create, or no step between the starting and the configured shares). A plan \
         that changes no weight keeps the value in state.",
    )
}

/// A value the rollout depends on is unknown until apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotKnownYet;

/// A `rollout` block as configured, when it is set and known.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub steps: Vec<i64>,
    pub pause: Duration,
}

/// The rollout settings of a configuration or plan; `Err(NotKnownYet)` while any of them is unknown.
pub fn settings(value: &Value) -> Result<Option<Settings>, NotKnownYet> {
    let block = value.get(BLOCK);
    if block.is_unknown() {
        return Err(NotKnownYet);
    }
    let Some(block) = tf_values::block(block) else { return Ok(None) };
    let (steps, pause) = (block.get("steps"), block.get("pause"));
    if steps.is_unknown() || pause.is_unknown() || steps.as_list().is_some_and(|l| l.iter().any(Value::is_unknown)) {
        return Err(NotKnownYet);
    }
    let steps = steps.as_list().unwrap_or_default().iter().filter_map(Value::as_i64).collect();
    let pause = pause.as_str().and_then(parse_duration).unwrap_or_default();
    Ok(Some(Settings { steps, pause }))
}

/// Checks the block: the steps, the pause, and that one pause fits in the update timeout.
pub fn validate(config: &Value, defaults: Defaults, d: &mut Diagnostics) {
    let Some(block) = tf_values::block(config.get(BLOCK)) else { return };
    let at = |name: &str| AttributePath::root(BLOCK).index(0).attr(name);
    if let Some(list) = block.get("steps").as_list() {
        if list.is_empty() {
            d.push_error(Some(at("steps")), "No rollout steps", "Give at least one step, e.g. `steps = [10, 50]`.");
        }
        let mut known = Vec::new();
        for (i, step) in list.iter().enumerate() {
            if step.is_unknown() {
                return;
            }
            match step.as_i64() {
                Some(p) => known.push(p),
                None => {
                    d.push_error(
                        Some(at("steps").index(i)),
                        "Invalid rollout step",
                        "A step is a whole percent between 1 and 99.",
                    );
                    return;
                }
            }
        }
        if let Err((i, why)) = steps::check_steps(&known) {
            d.push_error(Some(at("steps").index(i)), "Invalid rollout step", format!("{why}."));
        }
    }
    if let Some(text) = block.get("pause").as_str() {
        match parse_duration(text) {
            None => d.push_error(
                Some(at("pause")),
                "Invalid duration",
                format!("{text:?} is not a duration like \"30s\", \"2m\" or \"1h30m\"."),
            ),
            Some(pause) => {
                let limit = timeouts::timeout(config, defaults, Operation::Update);
                if pause >= limit {
                    d.push_error(Some(at("pause")), "Pause longer than the update timeout", too_long(pause, 1, limit));
                }
            }
        }
    }
}

fn too_long(pause: Duration, pauses: usize, limit: Duration) -> String {
    format!(
        "{pauses} pause(s) of {} take {} or more, and the whole rollout must finish within the update timeout \
         ({}, timeouts.update). Shorten the pause, use fewer steps, or raise timeouts.update.",
        format_duration(pause),
        format_duration(limit),
        format_duration(limit),
    )
}

// ---------------------------------------------------------------------------------------------
// Plan

fn route_weights(routes: &[Value]) -> Option<Vec<(String, i64)>> {
    routes.iter().map(|r| Some((r.get("set_identifier").as_str()?.to_string(), r.get("weight").as_i64()?))).collect()
}

/// The members from their start and target weights: the targets in order, then the members
/// that leave.
fn members(start: &[(String, i64)], target: &[(String, i64)]) -> Vec<Member> {
    let find = |list: &[(String, i64)], id: &str| list.iter().find(|(i, _)| i == id).map(|(_, w)| *w);
    let mut members: Vec<Member> = target
        .iter()
        .map(|(id, w)| Member { set_identifier: id.clone(), start: find(start, id), target: Some(*w) })
        .collect();
    members.extend(start.iter().filter(|(id, _)| find(target, id).is_none()).map(|(id, w)| Member {
        set_identifier: id.clone(),
        start: Some(*w),
        target: None,
    }));
    members
}

/// A stepped update: the members, the intermediate steps, and how each batch is named.
#[derive(Clone, Debug)]
pub struct Stepped {
    pub members: Vec<Member>,
    pub steps: Vec<Step>,
    /// One per batch, the configured weights last: `step 2 of 3 (50 % to green)`.
    pub labels: Vec<String>,
    /// One per batch: the label with the weights, as `rollout_plan` shows it.
    pub lines: Vec<String>,
}

impl Stepped {
    pub fn new(start: &[(String, i64)], target: &[(String, i64)], percents: &[i64]) -> Stepped {
        let members = members(start, target);
        let steps = steps::plan(&members, percents);
        let gaining: Vec<&str> = steps::gainers(&members).iter().map(|&i| members[i].set_identifier.as_str()).collect();
        let to = gaining.join(", ");
        let count = steps.len() + 1;
        let mut labels: Vec<String> = steps
            .iter()
            .enumerate()
            .map(|(i, s)| format!("step {} of {count} ({} % to {to})", i + 1, s.share))
            .collect();
        let last = steps::target_share(&members);
        labels.push(format!("step {count} of {count} ({} % to {to})", trim(last)));
        let mut weights: Vec<Vec<(String, i64)>> = steps.iter().map(|s| s.weights.clone()).collect();
        weights.push(target.to_vec());
        let lines = labels.iter().zip(&weights).map(|(label, w)| format!("{label}: {}", weights_text(w))).collect();
        Stepped { members, steps, labels, lines }
    }

    /// True when the update is one batch.
    pub fn is_single(&self) -> bool {
        self.steps.is_empty()
    }
}

/// `66.67`, `50`.
fn trim(share: f64) -> String {
    let text = format!("{share:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `blue = 90, green = 10`.
pub fn weights_text(weights: &[(String, i64)]) -> String {
    weights.iter().map(|(id, w)| format!("{id} = {w}")).collect::<Vec<_>>().join(", ")
}

/// The steps an update from `prior` to `planned` takes, when it is stepped at all: `Ok(None)`
/// for a create or without a rollout block, `Err(NotKnownYet)` while something is unknown.
pub fn stepped(prior: &Value, planned: &Value) -> Result<Option<(Settings, Stepped)>, NotKnownYet> {
    let Some(settings) = settings(planned)? else { return Ok(None) };
    if prior.is_null() || prior.get("type") != planned.get("type") {
        return Ok(None);
    }
    let start = route_weights(prior.get("route").as_list().unwrap_or_default()).unwrap_or_default();
    let target = route_weights(planned.get("route").as_list().ok_or(NotKnownYet)?).ok_or(NotKnownYet)?;
    if start.is_empty() {
        return Ok(None);
    }
    let stepped = Stepped::new(&start, &target, &settings.steps);
    Ok(Some((settings, stepped)))
}

/// Sets `rollout_plan` in `planned` and checks that the pauses fit in the update timeout. A
/// plan that moves no weight keeps the value in state.
pub fn plan(prior: &Value, planned: &mut Value, defaults: Defaults) -> Diagnostics {
    let mut d = Diagnostics::new();
    let weights_of = |v: &Value| route_weights(v.get("route").as_list().unwrap_or_default());
    if !prior.is_null() && weights_of(prior).is_some() && weights_of(prior) == weights_of(planned) {
        planned.set(PLAN, prior.get(PLAN).clone());
        return d;
    }
    let value = match stepped(prior, planned) {
        Err(NotKnownYet) => Value::Unknown,
        Ok(None) => Value::List(vec![]),
        Ok(Some((_, s))) if s.is_single() => Value::List(vec![]),
        Ok(Some((settings, s))) => {
            let limit = timeouts::timeout(planned, defaults, Operation::Update);
            let pauses = s.steps.len();
            if settings.pause * u32::try_from(pauses).unwrap_or(u32::MAX) >= limit {
                d.push_error(
                    Some(AttributePath::root(BLOCK).index(0).attr("pause")),
                    "Rollout longer than the update timeout",
                    format!("This update takes {} steps. {}", pauses + 1, too_long(settings.pause, pauses, limit)),
                );
            }
            Value::List(s.lines.iter().map(|l| Value::from(l.as_str())).collect())
        }
    };
    planned.set(PLAN, value);
    d
}

/// The routes of the state while `weights` are live: the planned routes and those leaving,
/// each with its weight at that step.
pub fn routes_at(prior: &Value, planned: &Value, weights: &[(String, i64)]) -> Vec<Value> {
    let weight = |route: &Value| {
        let id = route.get("set_identifier").as_str()?;
        weights.iter().find(|(w, _)| w == id).map(|(_, w)| *w)
    };
    let planned_routes = planned.get("route").as_list().unwrap_or_default();
    let leaving = prior
        .get("route")
        .as_list()
        .unwrap_or_default()
        .iter()
        .filter(|r| !planned_routes.iter().any(|p| p.get("set_identifier") == r.get("set_identifier")));
    planned_routes
        .iter()
        .chain(leaving)
        .filter_map(|route| {
            let mut route = route.clone();
            route.set("weight", Value::from(weight(&route)?));
            Some(route)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Apply

/// What Route53 holds when a rollout ends early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Live {
    /// The weights the apply started from.
    Start,
    /// Intermediate step `i` (from 0).
    Step(usize),
    /// The configured weights.
    Target,
}

/// A rollout that did not reach its end: what is live, and why.
#[derive(Debug)]
pub struct Ended {
    pub live: Live,
    pub error: RouteError,
}

/// One stepped update of a weighted set.
pub struct Run<'a> {
    pub r53: &'a Route53,
    pub readiness: &'a dyn ReadinessSource,
    pub zone_id: &'a str,
    pub name: &'a str,
    pub record_type: &'a str,
    pub wait: bool,
    pub pause: Duration,
    /// The members as Route53 held them when the apply started.
    pub start: Vec<RecordSet>,
    /// The configured members.
    pub target: Vec<RecordSet>,
    /// The gate of each gated route: its set identifier, where the gate is, the gate.
    pub gates: Vec<(String, AttributePath, Gate)>,
    pub stepped: Stepped,
}

const COMMENT: &str = "gitopsbridge_traffic_split rollout";

impl Run<'_> {
    /// The members of batch `index`: each step's weights on the configured record (or, for a
    /// member that leaves, the record as it was); the configured members last.
    fn records(&self, index: usize) -> Vec<RecordSet> {
        let Some(step) = self.stepped.steps.get(index) else { return self.target.clone() };
        step.weights
            .iter()
            .filter_map(|(id, weight)| {
                let of = |r: &&RecordSet| r.set_identifier.as_deref() == Some(id.as_str());
                let record = self.target.iter().find(of).or_else(|| self.start.iter().find(of))?;
                Some(RecordSet { weight: Some(*weight), ..record.clone() })
            })
            .collect()
    }

    /// Sends the batch that makes the set `records`, reading the live set first. Only the last
    /// batch warns when it finished after the deadline: otherwise the rollout's error says so.
    async fn write(&self, op: &Apply<'_>, records: &[RecordSet], comment: &str, last: bool) -> Result<(), SendError> {
        let live = op.read(self.r53.live_records_named(self.zone_id, self.name)).await.map_err(SendError::Unsent)?;
        let changes = weighted_set::changes_to(self.name, self.record_type, records, &live);
        if changes.is_empty() {
            return Ok(());
        }
        op.send_batch(self.r53, self.zone_id, comment, &changes, self.wait, last).await
    }

    fn label(&self, live: Live) -> String {
        match live {
            Live::Start => {
                format!("no step (the weights the apply started from: {})", weights_text(&weights(&self.start)))
            }
            Live::Step(i) => self.stepped.lines[i].clone(),
            Live::Target => self.stepped.lines[self.stepped.lines.len() - 1].clone(),
        }
    }

    /// The rollout ended with `live` in Route53, by the stop or the deadline if one has come,
    /// else by `error`.
    fn halted(&self, op: &Apply<'_>, live: Live, error: Option<RouteError>) -> Ended {
        let halt = Halt::now(op.ctx, Some(&op.deadline));
        let cause = match (&halt, error) {
            (_, Some(RouteError::TimedOut { unfinished: Unfinished::Wait(what), .. })) => Some(what),
            (_, Some(RouteError::TimedOut { unfinished: Unfinished::Retries { last, .. }, .. })) => {
                Some(format!("Route53 kept failing; its last answer: {last}"))
            }
            (Some(_), _) | (None, None) => None,
            (None, Some(e)) => Some(e.to_string()),
        };
        let halt = halt.or(match &cause {
            Some(_) if op.deadline.passed() => Some(Halt::Deadline(op.deadline.expired())),
            _ => None,
        });
        let error = RouteError::RolloutHalted { live: self.label(live), halt, cause };
        Ended { live, error }
    }

    /// Runs the rollout from the first batch to the configured weights.
    ///
    /// # Errors
    /// [`RouteError::RolledBack`] when a gate closed, [`RouteError::RolloutHalted`] when the stop,
    /// the deadline or a failure ended it early; each with what is live.
    pub async fn run(&self, op: &Apply<'_>) -> Result<(), Ended> {
        let batches = self.stepped.steps.len() + 1;
        let mut live = Live::Start;
        for index in 0..batches {
            let last = index + 1 == batches;
            if index > 0 {
                if let Some(halt) = pause(op.ctx, &op.deadline, self.pause).await {
                    let error = RouteError::RolloutHalted { live: self.label(live), halt: Some(halt), cause: None };
                    return Err(Ended { live, error });
                }
                self.check_gates(op, live).await?;
            }
            let next = if last { Live::Target } else { Live::Step(index) };
            match self.write(op, &self.records(index), COMMENT, last).await {
                Ok(()) => live = next,
                // Nothing written yet: the error as without a rollout.
                Err(SendError::Unsent(error)) if index == 0 => return Err(Ended { live, error }),
                Err(SendError::Unsent(e)) => return Err(self.halted(op, live, Some(e))),
                Err(SendError::Unconfirmed(e) | SendError::Uncertain(e)) if last => {
                    return Err(Ended { live: next, error: e });
                }
                Err(SendError::Unconfirmed(e) | SendError::Uncertain(e)) => {
                    return Err(self.halted(op, next, Some(e)));
                }
            }
            if !last {
                crate::tf_info!(
                    "rollout: step live, pausing",
                    step = self.stepped.labels[index],
                    pause = format_duration(self.pause)
                );
                if Halt::now(op.ctx, Some(&op.deadline)).is_some() {
                    return Err(self.halted(op, live, None));
                }
            }
        }
        Ok(())
    }

    /// Checks the gate of every gated member that gains traffic; the first closed one rolls back.
    async fn check_gates(&self, op: &Apply<'_>, live: Live) -> Result<(), Ended> {
        let gaining: Vec<&str> = steps::gainers(&self.stepped.members)
            .iter()
            .map(|&i| self.stepped.members[i].set_identifier.as_str())
            .collect();
        for (id, at, gate) in self.gates.iter().filter(|(id, _, _)| gaining.contains(&id.as_str())) {
            let check = traffic_gate::check(self.readiness, Some(self.r53), op.ctx, &op.deadline, gate);
            let closed = match op.read(check).await {
                Ok(closed) => closed,
                Err(e) => return Err(self.halted(op, live, Some(e))),
            };
            if !closed.is_empty() {
                crate::tf_info!("rollout: gate closed, rolling back", route = id);
                return Err(self.roll_back(op, live, at.clone(), closed).await);
            }
        }
        Ok(())
    }

    /// Restores the weights the apply started from in one batch (never gated).
    async fn roll_back(&self, op: &Apply<'_>, live: Live, at: AttributePath, closed: Vec<String>) -> Ended {
        let step = match live {
            Live::Step(i) => self.stepped.labels[i].clone(),
            _ => "the first step".to_string(),
        };
        let started = weights_text(&weights(&self.start));
        let comment = "gitopsbridge_traffic_split rollback";
        let (live, restored) = match self.write(op, &self.start, comment, false).await {
            Ok(()) => (
                Live::Start,
                format!(
                    "The weights the apply started from were restored in one change ({started}); the state records \
                     them, so the next plan shows the same change again. Apply it again once the gate is open."
                ),
            ),
            Err(SendError::Unsent(e)) => (
                live,
                format!(
                    "Restoring the weights the apply started from ({started}) failed: {e}. {} is still live and the \
                     state records it.",
                    self.label(live)
                ),
            ),
            Err(SendError::Unconfirmed(e) | SendError::Uncertain(e)) => (
                Live::Start,
                format!("The weights the apply started from ({started}) were sent in one change, but: {e}."),
            ),
        };
        Ended { live, error: RouteError::RolledBack { at, step, closed, restored } }
    }
}

/// Waits `length`; the stop or the deadline, whichever comes first, ends the wait early.
async fn pause(ctx: &Stop, deadline: &Deadline, length: Duration) -> Option<Halt> {
    tokio::select! {
        biased;
        halt = Halt::next(ctx, Some(deadline)) => Some(halt),
        () = tokio::time::sleep(length) => None,
    }
}

/// Each record's weight, by set identifier.
pub fn weights(records: &[RecordSet]) -> Vec<(String, i64)> {
    records.iter().filter_map(|r| Some((r.set_identifier.clone()?, r.weight.unwrap_or(0)))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(steps: Value, pause: &str, update: Option<&str>) -> Value {
        let timeouts = update
            .map(|u| Value::List(vec![Value::object([("update", Value::from(u))])]))
            .unwrap_or(Value::List(vec![]));
        Value::object([
            (BLOCK, Value::List(vec![Value::object([("steps", steps), ("pause", Value::from(pause))])])),
            ("timeouts", timeouts),
        ])
    }

    fn paths(config: &Value) -> Vec<String> {
        let mut d = Diagnostics::new();
        validate(config, crate::tf::route53_records::TIMEOUTS, &mut d);
        d.0.iter().filter_map(|x| x.attribute.as_ref().map(ToString::to_string)).collect()
    }

    #[test]
    fn bad_input_points_at_the_attribute() {
        let list = |steps: &[i64]| Value::List(steps.iter().map(|s| Value::from(*s)).collect());
        let cases: Vec<(Value, Vec<&str>)> = vec![
            (config(list(&[10, 50]), "2m", None), vec![]),
            (config(list(&[]), "2m", None), vec!["rollout[0].steps"]),
            (config(list(&[0, 50]), "2m", None), vec!["rollout[0].steps[0]"]),
            (config(list(&[10, 100]), "2m", None), vec!["rollout[0].steps[1]"]),
            (config(list(&[50, 10]), "2m", None), vec!["rollout[0].steps[1]"]),
            (
                config(Value::List(vec![Value::Number(crate::protocol::Number::Float(10.5))]), "2m", None),
                vec!["rollout[0].steps[0]"],
            ),
            (config(list(&[10]), "two minutes", None), vec!["rollout[0].pause"]),
            (config(list(&[10]), "2m", Some("1m")), vec!["rollout[0].pause"]),
            (config(list(&[10]), "20s", Some("1m")), vec![]),
            (config(Value::Unknown, "2m", None), vec![]),
        ];
        for (value, want) in cases {
            assert_eq!(paths(&value), want, "{value:?}");
        }
    }

    fn split(weights: &[(&str, i64)], rollout: Option<(&[i64], &str)>, update: Option<&str>) -> Value {
        let routes = weights
            .iter()
            .map(|(id, w)| Value::object([("set_identifier", Value::from(*id)), ("weight", Value::from(*w))]))
            .collect();
        let block = rollout.map_or(Value::List(vec![]), |(steps, pause)| {
            let steps = Value::List(steps.iter().map(|s| Value::from(*s)).collect());
            Value::List(vec![Value::object([("steps", steps), ("pause", Value::from(pause))])])
        });
        let timeouts = update
            .map(|u| Value::List(vec![Value::object([("update", Value::from(u))])]))
            .unwrap_or(Value::List(vec![]));
        Value::object([
            ("type", Value::from("CNAME")),
            ("route", Value::List(routes)),
            (BLOCK, block),
            ("timeouts", timeouts),
            (PLAN, Value::Unknown),
        ])
    }

    fn planned(prior: &Value, mut planned: Value) -> (Value, Vec<String>) {
        let d = plan(prior, &mut planned, crate::tf::route53_records::TIMEOUTS);
        let at = d.0.iter().filter_map(|x| x.attribute.as_ref().map(ToString::to_string)).collect();
        (planned.get(PLAN).clone(), at)
    }

    #[test]
    fn the_plan_lists_every_batch() {
        let prior = split(&[("blue", 100), ("green", 0)], Some((&[10, 50], "2m")), None);
        let flip = split(&[("blue", 0), ("green", 100)], Some((&[10, 50], "2m")), None);
        let (value, errors) = planned(&prior, flip.clone());
        assert!(errors.is_empty());
        assert_eq!(
            value,
            Value::strings([
                "step 1 of 3 (10 % to green): blue = 90, green = 10",
                "step 2 of 3 (50 % to green): blue = 50, green = 50",
                "step 3 of 3 (100 % to green): blue = 0, green = 100",
            ])
        );

        // Two pauses of 6m do not fit in the default 10m.
        let slow = split(&[("blue", 0), ("green", 100)], Some((&[10, 50], "6m")), None);
        assert_eq!(planned(&prior, slow).1, vec!["rollout[0].pause"]);

        // No block, a create, a change that is not a shift: one batch.
        let plain = split(&[("blue", 0), ("green", 100)], None, None);
        assert_eq!(planned(&prior, plain).0, Value::List(vec![]));
        assert_eq!(planned(&Value::Null, flip.clone()).0, Value::List(vec![]));
        let doubled = split(&[("blue", 200), ("green", 0)], Some((&[10, 50], "2m")), None);
        assert_eq!(planned(&prior, doubled).0, Value::List(vec![]));

        // Unknown weights: unknown steps.
        let mut unknown = flip.clone();
        unknown.set("route", Value::Unknown);
        assert!(planned(&prior, unknown).0.is_unknown());

        // Applied, the next plan keeps what the state holds.
        let mut applied = flip.clone();
        applied.set(PLAN, value.clone());
        let (kept, _) = planned(&applied, flip);
        assert_eq!(kept, value);
    }

    #[tokio::test]
    async fn a_pause_ends_at_the_stop_or_the_deadline() {
        let stop = tokio_util::sync::CancellationToken::new();
        let ctx = Stop::new(stop.clone());
        let far = Deadline::after(Operation::Update, Duration::from_secs(600));
        assert_eq!(pause(&ctx, &far, Duration::from_millis(10)).await, None);
        let near = Deadline::after(Operation::Update, Duration::from_millis(20));
        assert_eq!(pause(&ctx, &near, Duration::from_secs(600)).await, Some(Halt::Deadline(near.expired())));
        stop.cancel();
        assert_eq!(pause(&ctx, &far, Duration::from_secs(600)).await, Some(Halt::Stop));
    }

    #[test]
    fn the_state_between_steps_holds_the_live_weights() {
        let prior = split(&[("blue", 100), ("old", 5)], None, None);
        let planned = split(&[("blue", 0), ("green", 100)], None, None);
        let routes = routes_at(&prior, &planned, &[("blue".into(), 80), ("green".into(), 10), ("old".into(), 10)]);
        let got: Vec<(String, i64)> = route_weights(&routes).unwrap();
        assert_eq!(got, [("blue".into(), 80), ("green".into(), 10), ("old".into(), 10)]);
    }
}
