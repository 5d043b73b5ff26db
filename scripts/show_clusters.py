#!/usr/bin/env python3
"""Prints the Argo CD cluster Secrets on a hub: what Argo CD's ApplicationSets select on.

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
import urllib.request

SELECTOR = "argocd.argoproj.io/secret-type=cluster"


def from_kubectl(kubeconfig, namespace):
    out = subprocess.run(
        ["kubectl", "--kubeconfig", kubeconfig, "get", "secrets", "-n", namespace, "-l", SELECTOR, "-o", "json"],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)["items"]


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


def from_api(kubeconfig, namespace):
    cfg = simple_kubeconfig(kubeconfig)
    ctx = ssl.create_default_context()
    if "certificate-authority-data" in cfg:
        with tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False) as ca:
            ca.write(base64.b64decode(cfg["certificate-authority-data"]))
        ctx.load_verify_locations(ca.name)
    url = f"{cfg['server']}/api/v1/namespaces/{namespace}/secrets?labelSelector={urllib.request.quote(SELECTOR)}"
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {cfg.get('token', '')}"})
    with urllib.request.urlopen(req, context=ctx) as resp:
        return json.load(resp)["items"]


def main():
    kubeconfig = sys.argv[1]
    namespace = sys.argv[2] if len(sys.argv) > 2 else "argocd"
    items = from_kubectl(kubeconfig, namespace) if shutil.which("kubectl") else from_api(kubeconfig, namespace)
    if not items:
        print("    (no cluster secrets)")
        return
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


if __name__ == "__main__":
    main()
