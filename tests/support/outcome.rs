//! Reading what terraform printed and what its state holds, for tests that check warnings and
//! tainted objects.

use serde_json::Value as Json;

use super::Workspace;

/// Terraform's output with whitespace runs collapsed: it wraps long details.
pub fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// How many warnings with this summary terraform printed, counting those it folded into one
/// ("and N more similar warnings elsewhere").
pub fn warnings(output: &str, summary: &str) -> usize {
    let heading = format!("Warning: {summary}\n");
    output
        .split(&heading)
        .skip(1)
        .map(|block| {
            let block =
                block.split("\nWarning: ").next().unwrap_or_default().split("\nError: ").next().unwrap_or_default();
            // "(and one more similar warning elsewhere)", "(and 3 more similar warnings elsewhere)"
            let more = block.split("(and ").nth(1).and_then(|rest| rest.split(' ').next()).and_then(|n| match n {
                "one" => Some(1),
                n => n.parse().ok(),
            });
            1 + more.unwrap_or(0)
        })
        .sum()
}

/// The addresses of the managed resources whose object the state marks tainted, sorted.
pub fn tainted(ws: &Workspace) -> Vec<String> {
    let state: Json = serde_json::from_str(&ws.raw_state()).unwrap_or_default();
    let mut found: Vec<String> = state["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["mode"] == "managed")
        .filter(|r| r["instances"].as_array().into_iter().flatten().any(|i| i["status"] == "tainted"))
        .map(|r| format!("{}.{}", r["type"].as_str().unwrap_or("?"), r["name"].as_str().unwrap_or("?")))
        .collect();
    found.sort();
    found
}
