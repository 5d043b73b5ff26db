//! Fault injection: ordered rules that make matching requests fail, slow
//! down, or lose their connection, each for a limited number of requests.

use serde::{Deserialize, Serialize};

/// What a matching request gets instead of (or before) its normal answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FaultAction {
    /// Respond with this code and a matching `Status` body; 429 carries
    /// `Retry-After: retry_after_seconds` (default 1).
    #[serde(rename_all = "camelCase")]
    Status {
        code: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_seconds: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// Wait this long, then handle the request normally.
    Delay { ms: u64 },
    /// Handle the request at once (a write is stored), then hold the answer back this long: a
    /// client that gives up meanwhile cannot know whether its write happened.
    DelayAnswer { ms: u64 },
    /// Close the connection without any response.
    Drop,
    /// Handle the request normally: lets the first `times` matching requests through before
    /// the rules after it.
    Pass,
    /// Keep the request waiting, unhandled, until the test releases held requests.
    Hold,
    /// Handle the request (a write takes effect), then keep its answer until the test releases
    /// held requests: what a client sees when it dies between sending and hearing back.
    HoldAnswer,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultRule {
    /// HTTP method to match (any when absent), e.g. `PATCH`.
    #[serde(default)]
    pub method: Option<String>,
    /// Substring of the path to match (any when absent), e.g. `/secrets/`.
    #[serde(default)]
    pub path_contains: Option<String>,
    /// End of the path to match (any when absent): tells a collection (`/namespaces/a/secrets`)
    /// from its objects.
    #[serde(default)]
    pub path_ends_with: Option<String>,
    /// How many matching requests the rule still affects; 0 means unlimited.
    #[serde(default = "one")]
    pub times: u32,
    pub action: FaultAction,
}

fn one() -> u32 {
    1
}

impl FaultRule {
    pub fn new(action: FaultAction) -> FaultRule {
        FaultRule { method: None, path_contains: None, path_ends_with: None, times: 1, action }
    }

    /// Respond with `code` (and a real-looking Status body).
    pub fn status(code: u16) -> FaultRule {
        FaultRule::new(FaultAction::Status { code, retry_after_seconds: None, message: None })
    }

    /// 429 with `Retry-After: seconds`.
    pub fn too_many_requests(seconds: u32) -> FaultRule {
        FaultRule::new(FaultAction::Status { code: 429, retry_after_seconds: Some(seconds), message: None })
    }

    pub fn delay_ms(ms: u64) -> FaultRule {
        FaultRule::new(FaultAction::Delay { ms })
    }

    /// Handles the request at once but answers `ms` later.
    pub fn delay_answer_ms(ms: u64) -> FaultRule {
        FaultRule::new(FaultAction::DelayAnswer { ms })
    }

    pub fn drop_connection() -> FaultRule {
        FaultRule::new(FaultAction::Drop)
    }

    pub fn pass() -> FaultRule {
        FaultRule::new(FaultAction::Pass)
    }

    pub fn hold() -> FaultRule {
        FaultRule::new(FaultAction::Hold)
    }

    pub fn hold_answer() -> FaultRule {
        FaultRule::new(FaultAction::HoldAnswer)
    }

    pub fn method(mut self, method: &str) -> FaultRule {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    pub fn path_contains(mut self, fragment: &str) -> FaultRule {
        self.path_contains = Some(fragment.to_string());
        self
    }

    pub fn path_ends_with(mut self, suffix: &str) -> FaultRule {
        self.path_ends_with = Some(suffix.to_string());
        self
    }

    /// Affect this many matching requests (0: every one, until cleared).
    pub fn times(mut self, times: u32) -> FaultRule {
        self.times = times;
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self.path_contains.as_deref().is_none_or(|p| path.contains(p))
            && self.path_ends_with.as_deref().is_none_or(|p| path.ends_with(p))
    }
}

#[derive(Default)]
pub struct Faults {
    rules: Vec<FaultRule>,
}

impl Faults {
    pub fn add(&mut self, rule: FaultRule) {
        self.rules.push(rule);
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    pub fn rules(&self) -> Vec<FaultRule> {
        self.rules.clone()
    }

    /// The action of the first rule matching this request, consuming one use.
    pub fn take(&mut self, method: &str, path: &str) -> Option<FaultAction> {
        let index = self.rules.iter().position(|r| r.matches(method, path))?;
        let rule = &mut self.rules[index];
        let action = rule.action.clone();
        if rule.times == 1 {
            self.rules.remove(index);
        } else if rule.times > 1 {
            rule.times -= 1;
        }
        Some(action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_apply_in_order_and_expire() {
        let mut faults = Faults::default();
        faults.add(FaultRule::status(500).method("PATCH").times(2));
        faults.add(FaultRule::drop_connection());
        assert_eq!(faults.take("GET", "/api"), Some(FaultAction::Drop));
        assert!(matches!(faults.take("PATCH", "/x"), Some(FaultAction::Status { code: 500, .. })));
        assert!(matches!(faults.take("PATCH", "/x"), Some(FaultAction::Status { code: 500, .. })));
        assert_eq!(faults.take("PATCH", "/x"), None);
    }

    #[test]
    fn json_form_is_readable() {
        let rule: FaultRule = serde_json::from_str(
            r#"{"method":"PATCH","pathContains":"/secrets/","times":2,"action":{"status":{"code":429,"retryAfterSeconds":3}}}"#,
        )
        .unwrap();
        assert_eq!(rule, FaultRule::too_many_requests(3).method("PATCH").path_contains("/secrets/").times(2));
        let drop: FaultRule = serde_json::from_str(r#"{"action":"drop"}"#).unwrap();
        assert_eq!(drop.action, FaultAction::Drop);
        let held: FaultRule = serde_json::from_str(r#"{"method":"PATCH","times":0,"action":"holdAnswer"}"#).unwrap();
        assert_eq!(held, FaultRule::hold_answer().method("PATCH").times(0));
        let late: FaultRule = serde_json::from_str(r#"{"action":{"delayAnswer":{"ms":1500}}}"#).unwrap();
        assert_eq!(late, FaultRule::delay_answer_ms(1500));
    }
}
