//! Route53 health check status as Route53 itself judges it: a check is healthy when more than
//! 18 % of its checkers' latest observations report success.

/// One checker's latest observation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// The checker's region (e.g. `us-east-1`), or its address when Route53 names no region.
    pub region: String,
    /// Route53's status report, e.g. `Success: HTTP Status Code 200, OK` or `Failure: ...`.
    pub status: String,
}

impl Observation {
    pub fn succeeded(&self) -> bool {
        self.status.starts_with("Success")
    }
}

/// Healthy by Route53's rule: more than 18 % of the observations report success (none: not healthy).
pub fn healthy(observations: &[Observation]) -> bool {
    let ok = observations.iter().filter(|o| o.succeeded()).count();
    // ok / total > 18 / 100, in integers.
    ok * 100 > observations.len() * 18
}

/// The regions whose checkers report failure, each with its report, sorted and without repeats.
pub fn failing_regions(observations: &[Observation]) -> Vec<String> {
    let mut failing: Vec<String> =
        observations.iter().filter(|o| !o.succeeded()).map(|o| format!("{}: {}", o.region, o.status)).collect();
    failing.sort();
    failing.dedup();
    failing
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observations(ok: usize, failed: usize) -> Vec<Observation> {
        let one = |i: usize, status: &str| Observation { region: format!("region-{i}"), status: status.into() };
        (0..ok)
            .map(|i| one(i, "Success: HTTP Status Code 200, OK"))
            .chain((ok..ok + failed).map(|i| one(i, "Failure: timeout")))
            .collect()
    }

    #[test]
    fn more_than_eighteen_percent_success_is_healthy() {
        // (successes, failures, healthy)
        let cases = [
            (0, 0, false),
            (0, 8, false),
            (1, 4, true),
            (1, 5, false),
            (2, 8, true),
            (9, 41, false),
            (10, 40, true),
            (8, 0, true),
        ];
        for (ok, failed, want) in cases {
            assert_eq!(healthy(&observations(ok, failed)), want, "{ok} ok, {failed} failed");
        }
    }

    #[test]
    fn failing_regions_name_each_report() {
        let failing = failing_regions(&observations(1, 2));
        assert_eq!(failing, ["region-1: Failure: timeout", "region-2: Failure: timeout"]);
    }
}
