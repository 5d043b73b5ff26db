#!/usr/bin/env python3
"""Prints the Argo CD cluster Secrets on a hub (what ApplicationSets select on), the
ApplicationSets themselves and the Applications Argo CD generated, per cluster, with their health.

Uses kubectl when it is installed; otherwise reads a token-based kubeconfig (such as the one the
Kubernetes API test server writes) and asks the API directly, with the standard library only.
"""
import base64
import json
import shutil
import ssl
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

SELECTOR = "argocd.argoproj.io/secret-type=cluster"


def from_kubectl(kubeconfig, namespace, kind="secrets", selector=SELECTOR):
    args = ["kubectl", "--kubeconfig", kubeconfig, "get", kind, "-n", namespace, "-o", "json"]
    if selector:
        args += ["-l", selector]
    out = subprocess.run(args, capture_output=True, text=True)
    return json.loads(out.stdout)["items"] if out.returncode == 0 else []


def simple_kubeconfig(path):
    """The first server, CA and token of a flat kubeconfig (no YAML library needed)."""
    found = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.strip().lstrip("- ").partition(":")
            value = value.strip().strip('"')
            if key in ("server", "certificate-authority-data", "token") and key not in found:
                found[key] = value
    return found


def from_api(kubeconfig, namespace, path="api/v1", kind="secrets", selector=SELECTOR):
    cfg = simple_kubeconfig(kubeconfig)
    ctx = ssl.create_default_context()
    if "certificate-authority-data" in cfg:
        with tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False) as ca:
            ca.write(base64.b64decode(cfg["certificate-authority-data"]))
        ctx.load_verify_locations(ca.name)
    url = f"{cfg['server']}/{path}/namespaces/{namespace}/{kind}"
    if selector:
        url += f"?labelSelector={urllib.request.quote(selector)}"
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {cfg.get('token', '')}"})
    try:
        with urllib.request.urlopen(req, context=ctx) as resp:
            return json.load(resp)["items"]
    except urllib.error.HTTPError as err:
        if err.code == 404:  # Argo CD (its CRD) not installed
            return []
        raise


def main():
    kubeconfig = sys.argv[1]
    namespace = sys.argv[2] if len(sys.argv) > 2 else "argocd"
    kubectl = shutil.which("kubectl")
    items = from_kubectl(kubeconfig, namespace) if kubectl else from_api(kubeconfig, namespace)
    if kubectl:
        appsets = from_kubectl(kubeconfig, namespace, "applicationsets.argoproj.io", None)
    else:
        appsets = from_api(kubeconfig, namespace, "apis/argoproj.io/v1alpha1", "applicationsets", None)
    if not items:
        print("    (no cluster secrets)")
    for item in items:
        meta = item["metadata"]
        data = {k: base64.b64decode(v).decode() for k, v in item.get("data", {}).items()}
        labels = meta.get("labels", {})
        addons = sorted(k[len("enable_"):] for k, v in labels.items() if k.startswith("enable_") and v == "true")
        print(f"    {meta['namespace']}/{meta['name']}: {data.get('name')} -> {data.get('server')}")
        print(f"        environment={labels.get('environment', '')} addons={','.join(addons) or '-'}")
        annotations = meta.get("annotations", {})
        repo = annotations.get("addons_repo_url")
        if repo:
            print(f"        addons_repo_url={repo}")
    if not appsets:
        print("    (no ApplicationSets)")
    for appset in appsets:
        spec = appset.get("spec", {})
        name = spec.get("template", {}).get("metadata", {}).get("name", "")
        print(f"    ApplicationSet {appset['metadata']['namespace']}/{appset['metadata']['name']}: Applications {name}")
    if kubectl:
        apps = from_kubectl(kubeconfig, namespace, "applications.argoproj.io", None)
    else:
        apps = from_api(kubeconfig, namespace, "apis/argoproj.io/v1alpha1", "applications", None)
    by_cluster = {}
    for app in apps:
        destination = app.get("spec", {}).get("destination", {})
        cluster = destination.get("name") or destination.get("server") or "?"
        status = app.get("status", {})
        health = status.get("health", {}).get("status", "Unknown")
        sync = status.get("sync", {}).get("status", "Unknown")
        by_cluster.setdefault(cluster, []).append(f"{app['metadata']['name']} ({health}, {sync})")
    for cluster, names in sorted(by_cluster.items()):
        print(f"    Applications on {cluster}: {', '.join(sorted(names))}")


if __name__ == "__main__":
    main()
