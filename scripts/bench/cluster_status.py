"""`make bench-status`: what reading Argo CD's view of a fleet costs. 500 clusters with 10
Applications each (5,000 Applications, each with about 10 KB of status as Argo CD writes it: a
resource tree and conditions), read by 500 `gitopsbridge_cluster_status` data sources in one
plan; and 500 `gitopsbridge_cluster_metadata` for those clusters, applied and refreshed without
and with `wait_for_ready` (whose apply asks Argo CD, here the hub test server's stand-in, to
compare every Application again, since the seeded statuses predate the write).

    python3 scripts/bench/cluster_status.py [--clusters 500] [--apps-per-cluster 10]
                                            [--no-build | --binary PATH]

Prints each phase as it ends: the requests the hub answered (counted by the hub test server),
the plugin's peak RSS and the wall time; writes them to target/bench/cluster_status.json. The
request counts and the RSS do not depend on the machine's load; the times do.
"""
import argparse
import base64
import json
import math
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import roots  # noqa: E402
import stand_ins  # noqa: E402

ROOT = stand_ins.ROOT
MIRROR = ROOT / "target/bench/mirror"
PAGE_SIZE = 100  # the provider's LIST page size (src/hub/listing.rs)


def install(binary):
    """Puts a given provider binary where `make install` would (to compare builds)."""
    version = next(line.split('"')[1] for line in (ROOT / "Cargo.toml").read_text().splitlines()
                   if line.startswith("version = "))
    target = MIRROR / f"registry.terraform.io/gitops-bridge/gitopsbridge/{version}/linux_amd64"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(binary, target / f"terraform-provider-gitopsbridge_v{version}")


def b64(text):
    return base64.b64encode(text.encode()).decode()


def cluster_secret(i):
    name = f"spoke-{i:04d}"
    return {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": "argocd",
                     "labels": {"argocd.argoproj.io/secret-type": "cluster", "cluster_name": name,
                                "environment": "prod", "enable_metrics_server": "true"},
                     "annotations": {"cluster_name": name, "environment": "prod"}},
        "type": "Opaque",
        "data": {"name": b64(name), "server": b64(f"https://{name}.example.internal"),
                 "config": b64('{"tlsClientConfig":{"insecure":false}}')},
    }


def application(cluster, j):
    """An Application as Argo CD leaves it after a sync: ~10 KB, mostly the resource tree."""
    name = f"app{j}-spoke-{cluster:04d}"
    resources = [
        {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": f"team-{j}", "name": f"svc-{k}",
         "status": "Synced", "health": {"status": "Healthy"},
         "syncWave": 0, "requiresPruning": False}
        for k in range(48)
    ]
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd",
                     "ownerReferences": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
                                          "name": f"set-{j}", "uid": f"uid-set-{j}", "controller": True}]},
        "spec": {"project": "default", "destination": {"name": f"spoke-{cluster:04d}", "namespace": f"team-{j}"},
                 "source": {"repoURL": "https://github.com/example/workloads", "path": f"apps/{j}",
                            "targetRevision": "HEAD"}},
        "status": {"sync": {"status": "Synced", "revision": "0123456789abcdef0123456789abcdef01234567"},
                   "health": {"status": "Healthy"},
                   "operationState": {"operation": {"sync": {"revision": "0123456789abcdef0123456789abcdef01234567"}},
                                      "phase": "Succeeded", "message": "successfully synced (all tasks run)",
                                      "startedAt": "2026-12-01T10:00:00Z", "finishedAt": "2026-12-01T10:00:09Z"},
                   "reconciledAt": "2026-12-01T10:03:00Z",
                   "resources": resources,
                   "summary": {"images": [f"registry.example.com/team-{j}/svc:{k}" for k in range(8)]}},
    }


def seed(hub, resource, items):
    for start in range(0, len(items), 250):
        body = json.dumps({"items": items[start:start + 250]}).encode()
        request = urllib.request.Request(f"{hub.url}/_test/objects?resource={resource}", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, context=hub._tls).read()


def provider_block(hub):
    return ('terraform {\n  required_providers {\n    gitopsbridge = { source = "gitops-bridge/gitopsbridge" }\n  }\n}\n'
            f'provider "gitopsbridge" {{\n  hub {{\n    config_path = "{hub.kubeconfig}"\n  }}\n}}\n')


def status_readers(clusters):
    return "".join(f'data "gitopsbridge_cluster_status" "c{i}" {{\n  cluster_name = "spoke-{i:04d}"\n}}\n'
                   for i in range(clusters))


def metadata_resources(clusters, wait):
    """The clusters the seeded Applications deploy to, with their metadata."""
    block = "  wait_for_ready {\n    min_applications = 10\n  }\n" if wait else ""
    return "".join(
        f'resource "gitopsbridge_cluster_metadata" "c{i}" {{\n  cluster_name = "spoke-{i:04d}"\n'
        f'  environment = "prod"\n  server = "https://spoke-{i:04d}.example.internal"\n'
        f'  addons = {{ metrics_server = true }}\n{block}}}\n'
        for i in range(clusters))


def measure(hub, root, env, *args):
    hub.reset_requests()
    cpu = hub.cpu_seconds()
    started = time.perf_counter()
    _, _, plugins = roots.terraform(root, env, *args, probe=True)
    return {"seconds": round(time.perf_counter() - started, 2), "requests": hub.request_counts(),
            "peak_rss_mib": round(plugins["peak_rss_kib"] / 1024, 1), "plugin_starts": plugins["starts"],
            "hub_cpu_seconds": round(hub.cpu_seconds() - cpu, 2)}


def report(name, result):
    """One line per phase, printed as it ends."""
    requests = result.get("requests", {})
    print(f"  {name}: {result['seconds']} s, {sum(requests.values())} hub requests {requests}"
          + (f", plugin peak RSS {result['peak_rss_mib']} MiB" if "peak_rss_mib" in result else "")
          + (f", hub CPU {result['hub_cpu_seconds']} s" if "hub_cpu_seconds" in result else ""), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clusters", type=int, default=500)
    parser.add_argument("--apps-per-cluster", type=int, default=10)
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--binary", help="measure this provider binary instead of building one")
    args = parser.parse_args()

    if args.binary:
        install(pathlib.Path(args.binary))
    elif not args.no_build:
        subprocess.run(["make", "-C", str(ROOT), "--no-print-directory", "install", f"MIRROR={MIRROR}"], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["cargo", "build", "--locked", "--quiet", "--release", "-p", "kube-test-server"], cwd=ROOT,
                       check=True)
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench-status-"))
    hub = stand_ins.Hub(work)
    apps = args.clusters * args.apps_per_cluster
    size = len(json.dumps(application(0, 0)))
    results = {"clusters": args.clusters, "applications": apps, "application_bytes": size}
    print(f"{args.clusters} clusters, {apps} Applications of {size} bytes each:", flush=True)
    try:
        started = time.perf_counter()
        seed(hub, "applications",
             [application(c, j) for c in range(args.clusters) for j in range(args.apps_per_cluster)])
        results["seed"] = {"seconds": round(time.perf_counter() - started, 2)}
        report("seed the Applications (control API)", results["seed"])
        env = roots.environment(roots.cli_config(work, MIRROR))
        parallel = "-parallelism=50"

        root = roots.setup(work, "metadata", provider_block(hub) + metadata_resources(args.clusters, False), env)
        results["metadata_apply"] = measure(hub, root, env, "apply", "-auto-approve", "-input=false", parallel)
        report(f"apply {args.clusters} cluster_metadata", results["metadata_apply"])

        readers = roots.setup(work, "status", provider_block(hub) + status_readers(args.clusters), env)
        results["status_plan"] = measure(hub, readers, env, "plan", "-input=false", "-refresh=false")
        results["status_plan"]["limit"] = math.ceil(apps / PAGE_SIZE) + 1
        report(f"plan of {args.clusters} cluster_status", results["status_plan"])

        results["metadata_refresh"] = measure(hub, root, env, "plan", "-input=false")
        report(f"refresh of {args.clusters} cluster_metadata", results["metadata_refresh"])
        results["metadata_destroy"] = measure(hub, root, env, "destroy", "-auto-approve", "-input=false", parallel)
        report(f"destroy {args.clusters} cluster_metadata", results["metadata_destroy"])

        root = roots.setup(work, "metadata_wait", provider_block(hub) + metadata_resources(args.clusters, True), env)
        results["metadata_wait_apply"] = measure(hub, root, env, "apply", "-auto-approve", "-input=false", parallel)
        report(f"apply {args.clusters} cluster_metadata with wait_for_ready", results["metadata_wait_apply"])
        results["metadata_wait_refresh"] = measure(hub, root, env, "plan", "-input=false")
        report(f"refresh of {args.clusters} cluster_metadata with wait_for_ready", results["metadata_wait_refresh"])
        results["metadata_wait_destroy"] = measure(hub, root, env, "destroy", "-auto-approve", "-input=false",
                                                   parallel)
        report(f"destroy {args.clusters} cluster_metadata with wait_for_ready", results["metadata_wait_destroy"])
    finally:
        hub.stop()

    out = ROOT / "target/bench/cluster_status.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    status = results["status_plan"]
    hub_requests = sum(status["requests"].values())
    verdict = "met" if hub_requests <= status["limit"] else "NOT MET"
    print(f"cluster_status plan: {hub_requests} hub requests against ceil({apps}/{PAGE_SIZE}) + 1 = "
          f"{status['limit']} ({verdict}); plugin peak RSS {status['peak_rss_mib']} MiB against 40 MB "
          f"({'met' if status['peak_rss_mib'] * 1.048576 < 40 else 'NOT MET'})")
    without, with_wait = (sum(results[k]["requests"].values()) for k in ("metadata_refresh", "metadata_wait_refresh"))
    print(f"refresh of {args.clusters} cluster_metadata: {without} hub requests without wait_for_ready, "
          f"{with_wait} with ({'met' if with_wait <= without else 'NOT MET'})")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
