"""`make bench-status`: what reading Argo CD's view of a fleet costs. 500 clusters with 10
Applications each (5,000 Applications, each with about 10 KB of status as Argo CD writes it: a
resource tree and conditions), read by 500 `gitopsbridge_cluster_status` data sources in one
plan; and the refresh of 500 `gitopsbridge_cluster_metadata` with and without `wait_for_ready`.

    python3 scripts/bench/cluster_status.py [--clusters 500] [--apps-per-cluster 10] [--no-build]

Prints the requests the hub answered per operation (counted by the hub test server), the
plugin's peak RSS and the wall time, and writes them to target/bench/cluster_status.json. The
request counts and the RSS do not depend on the machine's load; the times do.
"""
import argparse
import base64
import json
import math
import pathlib
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
                   "operationState": {"phase": "Succeeded", "message": "successfully synced (all tasks run)",
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
    block = "  wait_for_ready {}\n" if wait else ""
    return "".join(
        f'resource "gitopsbridge_cluster_metadata" "c{i}" {{\n  cluster_name = "bench-{i:04d}"\n'
        f'  environment = "prod"\n  server = "https://bench-{i:04d}.example.internal"\n{block}}}\n'
        for i in range(clusters))


def measure(hub, root, env, *args):
    hub.reset_requests()
    started = time.perf_counter()
    _, _, plugins = roots.terraform(root, env, *args, probe=True)
    return {"seconds": round(time.perf_counter() - started, 2), "requests": hub.request_counts(),
            "peak_rss_mib": round(plugins["peak_rss_kib"] / 1024, 1), "plugin_starts": plugins["starts"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clusters", type=int, default=500)
    parser.add_argument("--apps-per-cluster", type=int, default=10)
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()

    if not args.no_build:
        subprocess.run(["make", "-C", str(ROOT), "--no-print-directory", "install", f"MIRROR={MIRROR}"], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["cargo", "build", "--locked", "--quiet", "--release", "-p", "kube-test-server"], cwd=ROOT,
                       check=True)
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench-status-"))
    hub = stand_ins.Hub(work)
    try:
        apps = args.clusters * args.apps_per_cluster
        seed(hub, "secrets", [cluster_secret(i) for i in range(args.clusters)])
        seed(hub, "applications",
             [application(c, j) for c in range(args.clusters) for j in range(args.apps_per_cluster)])
        size = len(json.dumps(application(0, 0)))
        env = roots.environment(roots.cli_config(work, MIRROR))
        results = {"clusters": args.clusters, "applications": apps, "application_bytes": size}

        readers = roots.setup(work, "status", provider_block(hub) + status_readers(args.clusters), env)
        results["status_plan"] = measure(hub, readers, env, "plan", "-input=false", "-refresh=false")
        results["status_plan"]["limit"] = math.ceil(apps / PAGE_SIZE) + 1

        for wait in (False, True):
            name = "metadata_wait" if wait else "metadata"
            root = roots.setup(work, name, provider_block(hub) + metadata_resources(args.clusters, wait), env)
            roots.terraform(root, env, "apply", "-auto-approve", "-input=false", "-parallelism=50")
            results[f"{name}_refresh"] = measure(hub, root, env, "plan", "-input=false")
            roots.terraform(root, env, "destroy", "-auto-approve", "-input=false", "-parallelism=50")
    finally:
        hub.stop()

    out = ROOT / "target/bench/cluster_status.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    status = results["status_plan"]
    hub_requests = sum(status["requests"].values())
    print(f"{args.clusters} gitopsbridge_cluster_status over {apps} Applications of {size} bytes each:")
    print(f"  plan: {hub_requests} hub requests (limit ceil({apps}/{PAGE_SIZE}) + 1 = {status['limit']}), "
          f"{status['requests']}, plugin peak RSS {status['peak_rss_mib']} MiB, {status['seconds']} s")
    for name in ("metadata", "metadata_wait"):
        r = results[f"{name}_refresh"]
        print(f"  refresh of {args.clusters} cluster_metadata{' with wait_for_ready' if 'wait' in name else ''}: "
              f"{sum(r['requests'].values())} hub requests {r['requests']}, {r['seconds']} s")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
