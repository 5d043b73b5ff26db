//! `kube-test-server`: runs the test server until SIGTERM or SIGINT.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use kube_test_server::{ArgoCdOptions, CrdOrigin, NamedScript, Options, TestServer, argocd_crds};

const USAGE: &str = "usage: kube-test-server [--argocd] [--crd <path>] [--application-crd <path>] \
[--argocd-options JSON] [--app-script JSON]... [--port N] [--token T] [--kubeconfig <out path>] \
[--context NAME] [--finalizers] [--release-finalizers-after-gets N] [--namespace NS]...";

struct Args {
    options: Options,
    kubeconfig: Option<PathBuf>,
    context: String,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args { options: Options::default(), kubeconfig: None, context: "kube-test-server".into() };
    let mut extra_namespaces = Vec::new();
    let mut argocd = false;
    while let Some(flag) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--crd" => parsed.options.applicationset_crd = Some(PathBuf::from(value("--crd")?)),
            "--application-crd" => parsed.options.application_crd = Some(PathBuf::from(value("--application-crd")?)),
            "--argocd" => argocd = true,
            "--argocd-options" => {
                let text = value("--argocd-options")?;
                let scripts = std::mem::take(&mut parsed.options.argocd.scripts);
                parsed.options.argocd =
                    serde_json::from_str::<ArgoCdOptions>(&text).map_err(|e| format!("--argocd-options: {e}"))?;
                parsed.options.argocd.scripts.extend(scripts);
            }
            "--app-script" => {
                let script: NamedScript = serde_json::from_str(&value("--app-script")?)
                    .map_err(|e| format!("--app-script: {e} (want {{\"name\": \"glob\", \"steps\": [...]}})"))?;
                parsed.options.argocd.scripts.push(script);
            }
            "--port" => parsed.options.port = value("--port")?.parse().map_err(|e| format!("--port: {e}"))?,
            "--token" => parsed.options.token = value("--token")?,
            "--kubeconfig" => parsed.kubeconfig = Some(PathBuf::from(value("--kubeconfig")?)),
            "--context" => parsed.context = value("--context")?,
            "--finalizers" => parsed.options = parsed.options.with_argocd_finalizer(),
            "--release-finalizers-after-gets" => {
                let gets = value("--release-finalizers-after-gets")?;
                parsed.options.release_finalizers_after_gets =
                    Some(gets.parse().map_err(|e| format!("--release-finalizers-after-gets: {e}"))?);
            }
            "--namespace" => extra_namespaces.push(value("--namespace")?),
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if argocd {
        // Explicit --crd / --application-crd win over the lookup.
        let mut crds = argocd_crds();
        if let Some(path) = parsed.options.applicationset_crd.take() {
            (crds.applicationset, crds.applicationset_origin) = (Some(path), CrdOrigin::Env("--crd".into()));
        }
        if let Some(path) = parsed.options.application_crd.take() {
            (crds.application, crds.application_origin) = (Some(path), CrdOrigin::Env("--application-crd".into()));
        }
        parsed.options = parsed.options.with_argocd_crds(&crds);
    }
    for namespace in extra_namespaces {
        if !parsed.options.namespaces.contains(&namespace) {
            parsed.options.namespaces.push(namespace);
        }
    }
    Ok(parsed)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let server = match TestServer::start(args.options).await {
        Ok(server) => server,
        Err(err) => {
            eprintln!("kube-test-server: {err}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = &args.kubeconfig
        && let Err(err) = server.write_kubeconfig(path, &args.context)
    {
        eprintln!("kube-test-server: {err}");
        return ExitCode::FAILURE;
    }
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "listening on {}", server.url());
    let _ = stdout.flush();

    wait_for_signal().await;
    server.shutdown().await;
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
