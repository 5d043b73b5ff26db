//! The bad input corpus end to end (`tests/fixtures/bad_input/`, format in
//! `tests/support/corpus.rs`): the real terraform refuses every case at the stage the case names,
//! with a diagnostic on the offending attribute, while a real hub and a real Route53 (moto behind
//! the counting double) wait behind the provider, and neither receives a single write. Then the
//! same files with their fixes applied are applied against the same servers: the counters see
//! those writes, so the corpus cannot pass with a provider that refuses everything or a counter
//! that sees nothing.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use support::Workspace;
use support::corpus::{self, Case, Diagnostic, Stage};
use support::hub::Hub;
use support::moto::{self, Moto};
use support::route53_double::Route53Double;

/// Terraform runs at a time: each mostly waits for provider processes to start.
const WORKERS: usize = 4;

/// Kinds of bad input the corpus must keep covering.
const CATEGORIES: [&str; 10] = [
    "label syntax",
    "names",
    "URLs",
    "weights",
    "TTLs",
    "DNS names",
    "conflicting attributes",
    "missing attributes",
    "unknown values",
    "wrong types through variables",
];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad_input")
}

/// The default provider block of every case directory.
fn providers_tf(hub: &Hub, route53_endpoint: &str) -> String {
    format!(
        "{}\nprovider \"gitopsbridge\" {{\n  hub {{\n    config_path = \"{}\"\n  }}\n  route53 {{\n    endpoint = \"{route53_endpoint}\"\n  }}\n}}\n",
        support::required_providers(),
        hub.kubeconfig().display()
    )
}

/// A directory under the initialised `base` with `files` and `base`'s `.terraform`, so no case
/// pays for `terraform init`; returns the `-chdir=` argument that runs terraform there.
fn case_dir(base: &Workspace, name: &str, files: &[(String, String)]) -> String {
    let dir = base.path().join("cases").join(name);
    std::fs::create_dir_all(&dir).expect("case dir");
    std::os::unix::fs::symlink(base.path().join(".terraform"), dir.join(".terraform")).expect("link .terraform");
    std::fs::copy(base.path().join(".terraform.lock.hcl"), dir.join(".terraform.lock.hcl")).expect("copy lock file");
    for (file, text) in files {
        std::fs::write(dir.join(file), text).expect("write case file");
    }
    format!("-chdir={}", dir.display())
}

fn listed(diagnostics: &[Diagnostic]) -> String {
    diagnostics.iter().map(|d| format!("\n    {d}")).collect()
}

fn expectation(case: &Case) -> String {
    let at = case.line.map_or("no range".to_string(), |l| format!("{}:{l}", case.file_name()));
    format!("{} [{at}] containing {:?}", case.summary, case.says)
}

/// Validate-stage cases share one directory and one `terraform validate`: Terraform validates
/// every block on its own and reports each error with its file and line, so each case is still
/// checked on its own diagnostic. Errors no case expects fail the test too. No apply is needed
/// here: with a validate error Terraform neither plans nor applies, so nothing could be written.
fn validate_stage(base: &Workspace, providers: &str, cases: &[&Case], values: &[(&str, String)]) -> Vec<String> {
    let mut files = vec![("providers.tf".to_string(), providers.to_string())];
    files.extend(cases.iter().map(|c| (c.file_name(), c.text(values))));
    let chdir = case_dir(base, "validate-stage", &files);
    let out = base.run(&[&chdir, "validate", "-json", "-no-color"]);
    let diagnostics = corpus::validate_diagnostics(&String::from_utf8_lossy(&out.stdout));
    let mut failures = Vec::new();
    for case in cases {
        if !diagnostics.iter().any(|d| case.is_expected(d)) {
            let own: Vec<Diagnostic> =
                diagnostics.iter().filter(|d| d.filename.as_deref() == Some(&case.file_name())).cloned().collect();
            failures.push(format!(
                "{}: terraform validate should say {}; it said:{}",
                case.name,
                expectation(case),
                listed(&own)
            ));
        }
    }
    let unexpected: Vec<Diagnostic> =
        diagnostics.iter().filter(|d| d.is_error() && !cases.iter().any(|c| c.is_expected(d))).cloned().collect();
    if !unexpected.is_empty() {
        failures.push(format!("validate-stage: errors no case expects:{}", listed(&unexpected)));
    }
    failures
}

/// A plan- or apply-stage case in its own directory: `terraform validate` passes (its values are
/// not known yet), and `terraform apply` refuses it with the expected diagnostic at the expected
/// stage. Apply, not plan: if the check were missing, the apply would go on and write.
fn later_stage(base: &Workspace, providers: &str, case: &Case, values: &[(&str, String)]) -> Result<(), String> {
    let files = [("providers.tf".to_string(), providers.to_string()), (case.file_name(), case.text(values))];
    let chdir = case_dir(base, &case.name, &files);
    let validated = base.run(&[&chdir, "validate", "-json", "-no-color"]);
    let early: Vec<Diagnostic> = corpus::validate_diagnostics(&String::from_utf8_lossy(&validated.stdout))
        .into_iter()
        .filter(Diagnostic::is_error)
        .collect();
    if !early.is_empty() {
        return Err(format!(
            "{}: should pass terraform validate (stage {:?}), got:{}",
            case.name,
            case.stage,
            listed(&early)
        ));
    }

    let out = base.run(&[&chdir, "apply", "-auto-approve", "-input=false", "-json", "-no-color"]);
    let messages = corpus::messages(&String::from_utf8_lossy(&out.stdout));
    let diagnostics = corpus::streamed_diagnostics(&messages);
    let errors: Vec<Diagnostic> = diagnostics.iter().filter(|d| d.is_error()).cloned().collect();
    if out.status.success() || !errors.iter().any(|d| case.is_expected(d)) {
        return Err(format!(
            "{}: terraform apply should fail with {}; it {} with:{}\n{}",
            case.name,
            expectation(case),
            if out.status.success() { "succeeded" } else { "failed" },
            listed(&diagnostics),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    if let Some(extra) = errors.iter().find(|d| !case.is_expected(d)) {
        return Err(format!("{}: an error the case does not expect: {extra}", case.name));
    }
    let started = corpus::applied(&messages, "apply_start");
    let completed = corpus::applied(&messages, "apply_complete");
    match case.stage {
        Stage::Plan if !started.is_empty() => {
            Err(format!("{}: refused only after the apply started ({started:?}), not at plan", case.name))
        }
        Stage::Apply if started.is_empty() => {
            Err(format!("{}: refused before the apply started; the case should be stage plan", case.name))
        }
        _ if completed.iter().any(|a| a.contains("gitopsbridge_")) => {
            Err(format!("{}: one of our resources was applied: {completed:?}", case.name))
        }
        _ => Ok(()),
    }
}

/// Prints and checks what the corpus covers, per type, category and stage.
fn check_coverage(cases: &[Case]) {
    let mut by_subject: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_category: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_stage: BTreeMap<Stage, usize> = BTreeMap::new();
    for case in cases {
        *by_subject.entry(corpus::subject(&case.name)).or_default() += 1;
        *by_category.entry(case.category.as_str()).or_default() += 1;
        *by_stage.entry(case.stage).or_default() += 1;
    }
    eprintln!("bad input corpus: {} cases", cases.len());
    eprintln!("  by type: {by_subject:?}");
    eprintln!("  by category: {by_category:?}");
    eprintln!("  by stage: {by_stage:?}");
    eprintln!("  with a fixed neighbour: {}", cases.iter().filter(|c| !c.fixes.is_empty()).count());
    assert!(cases.len() >= 40, "the corpus shrank to {} cases", cases.len());
    assert_eq!(by_subject.len(), 7, "every resource, data source and the provider block: {by_subject:?}");
    assert!(by_subject.values().all(|n| *n >= 3), "at least 3 cases per type: {by_subject:?}");
    for category in CATEGORIES {
        assert!(by_category.contains_key(category), "no case of category {category:?}");
    }
    for case in cases {
        assert!(
            case.line.is_some() || case.category == "import ids",
            "{}: mark the offending line with `# <-`",
            case.name
        );
        assert!(!case.description.is_empty(), "{}: say what is wrong in the first line", case.name);
    }
}

#[test]
fn every_bad_input_is_refused_on_its_attribute_before_anything_is_written() {
    let started = Instant::now();
    let cases = corpus::load(&corpus_dir());
    check_coverage(&cases);

    let hub = Hub::start();
    let moto = Moto::start();
    moto.create_zone("example.com");
    let double = Route53Double::start(&moto.endpoint());
    double.reset_counts();
    let values = [("HUB_KUBECONFIG", hub.kubeconfig().display().to_string()), ("ROUTE53_ENDPOINT", double.endpoint())];
    let providers = providers_tf(&hub, &double.endpoint());
    let base = moto::aws_workspace(&providers);

    // The validate stage as one job, every later-stage case as its own, WORKERS at a time.
    let validate_cases: Vec<&Case> = cases.iter().filter(|c| c.stage == Stage::Validate).collect();
    let later: Vec<&Case> = cases.iter().filter(|c| c.stage != Stage::Validate).collect();
    let jobs: Mutex<Vec<Option<&Case>>> = Mutex::new(later.iter().map(|c| Some(*c)).chain([None]).collect());
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| {
                loop {
                    let Some(job) = jobs.lock().unwrap().pop() else {
                        break;
                    };
                    let found = match job {
                        None => validate_stage(&base, &providers, &validate_cases, &values),
                        Some(case) => later_stage(&base, &providers, case, &values).err().into_iter().collect(),
                    };
                    failures.lock().unwrap().extend(found);
                }
            });
        }
    });
    // Nothing written: every POST/PUT/PATCH/DELETE the hub's API saw, every non-GET request
    // (change batches, zone creates and deletes) that reached moto through the double.
    let hub_writes: Vec<String> = hub
        .server()
        .requests()
        .log
        .iter()
        .filter(|r| r.is_write())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty() && hub_writes.is_empty() && double.writes() == 0,
        "{} of {} cases failed:\n{}\n\nwrites to the hub: {hub_writes:?}; to Route53: {}",
        failures.len(),
        cases.len(),
        failures.join("\n\n"),
        double.writes()
    );
    eprintln!("bad input: 0 writes to the hub, 0 to Route53 ({:.0?})", started.elapsed());

    // The fixed neighbours plan and apply against the same servers, and the same counters see it.
    let fixed: Vec<(String, String)> =
        cases.iter().filter_map(|c| c.fixed_text(&values).map(|text| (c.file_name(), text))).collect();
    let mut files = vec![("providers.tf".to_string(), providers.clone())];
    files.extend(fixed.iter().cloned());
    let chdir = case_dir(&base, "fixed", &files);
    let out = base.run(&[&chdir, "apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(
        out.status.success(),
        "the fixed cases must apply:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8_lossy(&base.run(&[&chdir, "state", "list"]).stdout).into_owned();
    for (file, _) in &fixed {
        let name = file.trim_end_matches(".tf");
        assert!(listed.lines().any(|a| a.ends_with(&format!(".{name}"))), "{name} is not in the state:\n{listed}");
    }
    eprintln!(
        "fixed neighbours: {} applied; {} hub writes, {} Route53 writes ({:.0?})",
        fixed.len(),
        hub.writes(),
        double.writes(),
        started.elapsed()
    );
    assert!(hub.writes() > 0 && double.writes() > 0, "the fixed cases must have written through the same counters");
}

/// Terraform decides replacement at plan time: a record name only known at apply must be
/// planned as a replacement then, or the apply fails with "Provider produced inconsistent final
/// plan" once the name turns out to be new.
#[test]
fn a_record_name_known_only_at_apply_is_replaced_cleanly() {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    let zone = moto.create_zone("example.com");
    let body = r#"variable "prefix" {
  default = "one"
}

resource "terraform_data" "prefix" {
  input = var.prefix
}

resource "gitopsbridge_weighted_route" "route" {
  zone_name      = "example.com"
  name           = "${terraform_data.prefix.output}-route.example.com"
  type           = "CNAME"
  set_identifier = "green"
  weight         = 1
  ttl            = 60
  records        = ["green.elb.amazonaws.com"]
}

resource "gitopsbridge_traffic_split" "split" {
  zone_name = "example.com"
  name      = "${terraform_data.prefix.output}-split.example.com"
  type      = "CNAME"
  ttl       = 60
  route {
    set_identifier = "blue"
    weight         = 100
    records        = ["blue.elb.amazonaws.com"]
  }
}
"#;
    let ws = moto::route53_workspace(&endpoint, body);
    ws.apply();
    let out = ws.run(&["plan", "-input=false", "-no-color", "-var", "prefix=two"]);
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{plan}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(plan.matches("must be replaced").count(), 2, "{plan}");
    ws.run_ok(&["apply", "-auto-approve", "-input=false", "-no-color", "-var", "prefix=two"]);
    let names: Vec<String> =
        moto::records(&endpoint, &zone).into_iter().filter(|r| r.set_identifier.is_some()).map(|r| r.name).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("two-")), "the old records are gone: {names:?}");
    let again = ws.run(&["plan", "-detailed-exitcode", "-input=false", "-no-color", "-var", "prefix=two"]);
    assert_eq!(again.status.code(), Some(0), "expected an empty plan:\n{}", String::from_utf8_lossy(&again.stdout));
}
