#!/usr/bin/env python3
"""Times `terraform plan` (with refresh) over N resources of ours against N `terraform_data`.

    python3 scripts/bench_plan.py [--n 200] [--runs 7]

Builds nothing: run `make install` and `cargo build --release -p kube-test-server` first (the
`make bench-plan` target does). Starts the Kubernetes API test server as the hub, applies N
`gitopsbridge_cluster_metadata` in one root and N `terraform_data` in another, then runs
`terraform plan` on both, interleaved, and prints medians and their ratio.
"""
import argparse
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCE = "registry.terraform.io/gitops-bridge/gitopsbridge"


def start_hub(work):
    kubeconfig = work / "hub.kubeconfig"
    crd = os.environ.get("APPSET_CRD", str(ROOT.parent / "shared/argocd/applicationset-crd.yaml"))
    proc = subprocess.Popen(
        [str(ROOT / "target/release/kube-test-server"), "--crd", crd, "--kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline()
    if not line.startswith("listening on"):
        proc.kill()
        sys.exit(f"hub test server did not start: {line!r}")
    return proc, kubeconfig


def terraform(root, env, *args):
    subprocess.run(["terraform", *args], cwd=root, env=env, check=True, stdout=subprocess.DEVNULL)


def timed(root, env, *args):
    start = time.perf_counter()
    terraform(root, env, *args)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    work = pathlib.Path(tempfile.mkdtemp(prefix="gitopsbridge-bench"))
    rc = work / "terraform.rc"
    rc.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{ROOT}/target/terraform-mirror"\n'
        f'    include = ["{SOURCE}"]\n  }}\n  direct {{\n    exclude = ["{SOURCE}"]\n  }}\n}}\n'
    )
    env = dict(os.environ, TF_CLI_CONFIG_FILE=str(rc), TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
    env.pop("TF_LOG", None)
    hub, kubeconfig = start_hub(work)
    try:
        ours, floor = work / "ours", work / "floor"
        ours.mkdir()
        floor.mkdir()
        (ours / "main.tf").write_text(
            'terraform {\n  required_providers {\n    gitopsbridge = { source = "gitops-bridge/gitopsbridge" }\n  }\n}\n'
            f'provider "gitopsbridge" {{\n  hub {{\n    config_path = "{kubeconfig}"\n  }}\n}}\n'
            f'resource "gitopsbridge_cluster_metadata" "c" {{\n  count        = {args.n}\n'
            '  cluster_name = "cluster-${count.index}"\n  environment  = "bench"\n'
            '  server       = "https://cluster-${count.index}.example.internal"\n'
            '  addons       = { metrics_server = true }\n}\n'
        )
        (floor / "main.tf").write_text(
            f'resource "terraform_data" "c" {{\n  count = {args.n}\n'
            '  input = { name = "cluster-${count.index}", server = "https://cluster-${count.index}.example.internal" }\n}\n'
        )
        for root in (ours, floor):
            terraform(root, env, "init", "-input=false")
            terraform(root, env, "apply", "-auto-approve", "-input=false")
        samples = {"ours": [], "floor": []}
        for _ in range(args.runs):
            samples["ours"].append(timed(ours, env, "plan", "-input=false"))
            samples["floor"].append(timed(floor, env, "plan", "-input=false"))
        ours_median = statistics.median(samples["ours"])
        floor_median = statistics.median(samples["floor"])
        tf_version = subprocess.run(["terraform", "version"], capture_output=True, text=True).stdout.splitlines()[0]
        print(f"{tf_version}, {platform.machine()}, {os.cpu_count()} cores, {args.runs} runs, N={args.n}")
        print(f"plan with refresh, {args.n} gitopsbridge_cluster_metadata: median {ours_median:.3f} s")
        print(f"plan with refresh, {args.n} terraform_data:                 median {floor_median:.3f} s")
        print(f"ratio: {ours_median / floor_median:.2f}x")
        for root in (ours, floor):
            terraform(root, env, "destroy", "-auto-approve", "-input=false")
    finally:
        hub.terminate()
        hub.wait()


if __name__ == "__main__":
    main()
