//! The arithmetic of a stepped shift: the weights a weighted set passes through on its way
//! from the weights it has to the weights configured, one step per traffic share.
//!
//! A member's share is its weight over the sum of the set's weights (every member equal when
//! all weights are 0, Route53's rule; an absent member has none). The **gainers** are the
//! members whose share grows; everyone else loses or keeps its share. A step `p` is the moment
//! the gainers together carry `p` % of the traffic. At that moment every member's share has
//! moved the same fraction `f` of the way from its starting share to its target share, with
//! `f = (p - g0) / (g1 - g0)`, where `g0` and `g1` are the gainers' combined starting and
//! target shares: each member moves steadily in one direction, never past where it ends.
//!
//! Steps at or below `g0` (already passed) and at or above `g1` (the configured weights reach
//! them anyway) are skipped; so is every step of a change that moves no share at all (every
//! weight doubled). The intermediate weights are percents (they sum to 100): the gainers get
//! exactly `p` between them and the others `100 - p`, each group rounded by largest remainder
//! (the member whose exact share has the larger fraction gets the rounded-up percent; on a tie,
//! the earlier member). All arithmetic is exact (integers), so a share of exactly 10 % is 10.

/// One member of the set: its weight before the change and after it (`None`: absent then).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub set_identifier: String,
    pub start: Option<i64>,
    pub target: Option<i64>,
}

/// One intermediate step: the gainers' combined share and every member's weight then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Percent of all traffic the gainers carry together.
    pub share: i64,
    /// Every member's weight (0–100, summing to 100), in the order of the members.
    pub weights: Vec<(String, i64)>,
}

/// Weights as Route53 counts them: all 0 counts as all equal; absent members count 0.
fn effective(weights: &[Option<i64>]) -> Vec<i128> {
    let total: i64 = weights.iter().flatten().map(|w| (*w).max(0)).sum();
    weights
        .iter()
        .map(|w| match w {
            None => 0,
            Some(_) if total == 0 => 1,
            Some(w) => i128::from((*w).max(0)),
        })
        .collect()
}

/// The members that gain share, by index.
pub fn gainers(members: &[Member]) -> Vec<usize> {
    let start = effective(&members.iter().map(|m| m.start).collect::<Vec<_>>());
    let target = effective(&members.iter().map(|m| m.target).collect::<Vec<_>>());
    let (sum_start, sum_target): (i128, i128) = (start.iter().sum(), target.iter().sum());
    if sum_start == 0 || sum_target == 0 {
        return Vec::new();
    }
    // target_i / sum_target > start_i / sum_start, in integers.
    (0..members.len()).filter(|&i| target[i] * sum_start > start[i] * sum_target).collect()
}

/// The gainers' combined share at the target weights, in percent (0 when nothing gains).
pub fn target_share(members: &[Member]) -> f64 {
    let target = effective(&members.iter().map(|m| m.target).collect::<Vec<_>>());
    let total: i128 = target.iter().sum();
    let gaining: i128 = gainers(members).iter().map(|&i| target[i]).sum();
    if total == 0 { 0.0 } else { ((gaining * 20_000 + total) / (2 * total)) as f64 / 100.0 }
}

/// The intermediate steps from the members' start weights to their targets through `steps`
/// (percents, strictly increasing): empty when the set has no weight yet (a create) or no share
/// moves. The configured weights themselves are not a step here: they are the last batch.
pub fn plan(members: &[Member], steps: &[i64]) -> Vec<Step> {
    let start = effective(&members.iter().map(|m| m.start).collect::<Vec<_>>());
    let target = effective(&members.iter().map(|m| m.target).collect::<Vec<_>>());
    let (sum_start, sum_target): (i128, i128) = (start.iter().sum(), target.iter().sum());
    let gaining = gainers(members);
    if gaining.is_empty() {
        return Vec::new();
    }
    let a: i128 = gaining.iter().map(|&i| start[i]).sum();
    let b: i128 = gaining.iter().map(|&i| target[i]).sum();
    // f = num / den = (p/100 - a/ΣS) / (b/ΣT - a/ΣS); den > 0 because the gainers gain.
    let den = 100 * (b * sum_start - a * sum_target);
    let scale = sum_start * sum_target * den;
    steps
        .iter()
        .map(|&p| i128::from(p))
        .filter(|&p| p * sum_start > 100 * a && p * sum_target < 100 * b)
        .map(|p| {
            let num = p * sum_start * sum_target - 100 * a * sum_target;
            // Each member's share in percent is exact[i] / scale.
            let exact: Vec<i128> = (0..members.len())
                .map(|i| {
                    let from = start[i] * sum_target;
                    100 * (from * den + num * (target[i] * sum_start - from))
                })
                .collect();
            let mut weights = vec![0; members.len()];
            let losing: Vec<usize> = (0..members.len()).filter(|i| !gaining.contains(i)).collect();
            apportion(&exact, scale, &gaining, p, &mut weights);
            apportion(&exact, scale, &losing, 100 - p, &mut weights);
            Step {
                share: p as i64,
                weights: members.iter().zip(weights).map(|(m, w)| (m.set_identifier.clone(), w as i64)).collect(),
            }
        })
        .collect()
}

/// Shares `total` percent among `group` by largest remainder of `exact[i] / scale`, whose sum
/// over the group is exactly `total`.
fn apportion(exact: &[i128], scale: i128, group: &[usize], total: i128, weights: &mut [i128]) {
    for &i in group {
        weights[i] = exact[i].div_euclid(scale);
    }
    let short = total - group.iter().map(|&i| weights[i]).sum::<i128>();
    let mut by_remainder: Vec<usize> = group.to_vec();
    // Stable: on equal remainders the earlier member comes first.
    by_remainder.sort_by_key(|&i| std::cmp::Reverse(exact[i].rem_euclid(scale)));
    for &i in by_remainder.iter().take(usize::try_from(short.max(0)).unwrap_or(0)) {
        weights[i] += 1;
    }
}

/// The percent that `steps` must satisfy, or why they do not: each 1–99 and above the one
/// before. `Err((index, reason))` names the first step at fault.
pub fn check_steps(steps: &[i64]) -> Result<(), (usize, String)> {
    for (i, &p) in steps.iter().enumerate() {
        if !(1..=99).contains(&p) {
            return Err((i, format!("{p} is not a share of traffic between 1 and 99 (percent)")));
        }
        if i > 0 && p <= steps[i - 1] {
            return Err((i, format!("{p} does not come after {}: steps must be strictly increasing", steps[i - 1])));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(pairs: &[(&str, Option<i64>, Option<i64>)]) -> Vec<Member> {
        pairs
            .iter()
            .map(|(id, start, target)| Member { set_identifier: id.to_string(), start: *start, target: *target })
            .collect()
    }

    /// Each step as `share: id=weight id=weight`.
    fn shown(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| {
                let weights: Vec<String> = s.weights.iter().map(|(id, w)| format!("{id}={w}")).collect();
                format!("{}: {}", s.share, weights.join(" "))
            })
            .collect()
    }

    #[test]
    fn steps_move_the_gainers_share() {
        // (what, (member, start, target), steps, the steps taken)
        type Case = (&'static str, Vec<(&'static str, Option<i64>, Option<i64>)>, Vec<i64>, Vec<&'static str>);
        let cases: Vec<Case> = vec![
            (
                "blue/green flip",
                vec![("blue", Some(100), Some(0)), ("green", Some(0), Some(100))],
                vec![10, 50],
                vec!["10: blue=90 green=10", "50: blue=50 green=50"],
            ),
            (
                "steps at or below the start share are skipped",
                vec![("blue", Some(90), Some(0)), ("green", Some(10), Some(100))],
                vec![5, 10, 50],
                vec!["50: blue=50 green=50"],
            ),
            (
                "steps at or above the target share are skipped",
                vec![("blue", Some(100), Some(50)), ("green", Some(0), Some(50))],
                vec![10, 50, 90],
                vec!["10: blue=90 green=10"],
            ),
            (
                "weights on another scale",
                vec![("blue", Some(255), Some(1)), ("green", Some(0), Some(3))],
                vec![25, 50, 75],
                vec!["25: blue=75 green=25", "50: blue=50 green=50"],
            ),
            (
                "several gainers share the step by their targets, ties to the first",
                vec![("blue", Some(100), Some(0)), ("green", Some(0), Some(75)), ("teal", Some(0), Some(25))],
                vec![10, 20],
                vec!["10: blue=90 green=8 teal=2", "20: blue=80 green=15 teal=5"],
            ),
            (
                "a gainer that already had traffic moves steadily up",
                vec![("blue", Some(60), Some(0)), ("green", Some(40), Some(50)), ("teal", Some(0), Some(50))],
                vec![50, 70],
                vec!["50: blue=50 green=42 teal=8", "70: blue=30 green=45 teal=25"],
            ),
            (
                "a member going to 0 while another keeps some",
                vec![("blue", Some(50), Some(0)), ("red", Some(50), Some(50)), ("green", Some(0), Some(50))],
                vec![20],
                vec!["20: blue=30 red=50 green=20"],
            ),
            (
                "a new member and a leaving one",
                vec![("blue", Some(100), None), ("green", None, Some(100))],
                vec![10],
                vec!["10: blue=90 green=10"],
            ),
            (
                "all weights 0 at the start count as equal shares",
                vec![("blue", Some(0), Some(0)), ("green", Some(0), Some(100))],
                vec![10, 60],
                vec!["60: blue=40 green=60"],
            ),
            (
                "every weight doubled moves nothing",
                vec![("blue", Some(30), Some(60)), ("green", Some(70), Some(140))],
                vec![10, 50],
                vec![],
            ),
            ("unchanged", vec![("blue", Some(100), Some(100)), ("green", Some(0), Some(0))], vec![10], vec![]),
            (
                "a create has no traffic to move",
                vec![("blue", None, Some(0)), ("green", None, Some(100))],
                vec![10],
                vec![],
            ),
            (
                "a small shift passes no step",
                vec![("blue", Some(90), Some(80)), ("green", Some(10), Some(20))],
                vec![10, 50],
                vec![],
            ),
        ];
        for (name, pairs, steps, want) in cases {
            let got = plan(&members(&pairs), &steps);
            assert_eq!(shown(&got), want, "{name}");
            for step in &got {
                assert_eq!(step.weights.iter().map(|(_, w)| w).sum::<i64>(), 100, "{name}: weights sum to 100");
            }
        }
    }

    #[test]
    fn gainers_are_the_members_whose_share_grows() {
        let m = members(&[("blue", Some(50), Some(50)), ("green", Some(50), Some(100)), ("teal", None, Some(0))]);
        assert_eq!(gainers(&m), vec![1]);
        let doubled = members(&[("blue", Some(1), Some(2)), ("green", Some(3), Some(6))]);
        assert!(gainers(&doubled).is_empty());
    }

    #[test]
    fn steps_are_shares_that_grow() {
        let cases: Vec<(Vec<i64>, Result<(), usize>)> = vec![
            (vec![10, 50], Ok(())),
            (vec![1, 99], Ok(())),
            (vec![], Ok(())),
            (vec![0], Err(0)),
            (vec![10, 100], Err(1)),
            (vec![50, 10], Err(1)),
            (vec![10, 10], Err(1)),
            (vec![10, -5], Err(1)),
        ];
        for (steps, want) in cases {
            assert_eq!(check_steps(&steps).map_err(|(i, _)| i), want, "{steps:?}");
        }
    }
}
