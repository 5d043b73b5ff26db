#!/usr/bin/env python3
"""Puts Argo CD's CRDs where the Kubernetes API test server looks for them, when nothing else has.

For each CRD (applicationset-crd.yaml, application-crd.yaml) nothing is done when an environment
variable names it (APPSET_CRD / KUBE_TEST_SERVER_CRD, APPLICATION_CRD / KUBE_TEST_SERVER_APPLICATION_CRD)
or when shared/argocd/ beside an ancestor of the clone has it. Otherwise the pinned copy of Argo CD
v3.6 is downloaded once into <target>/argocd-crds/, with a short timeout, and kept only when its
SHA-256 is the pinned one. Without network the test server later runs without schema validation and
says so: this script never fails the build for that.

    python3 scripts/argocd_crds.py [--root DIR] [--target DIR]

ARGOCD_CRDS_URL replaces the base URL (tests use a local file server), ARGOCD_CRDS_TIMEOUT the
timeout in seconds (default 5), ARGOCD_CRDS_PINNED="file=sha256 ..." the pinned checksums (tests).
"""
import argparse
import hashlib
import os
import pathlib
import sys
import tempfile
import urllib.error
import urllib.request

# The last commit of argoproj/argo-cd that changed manifests/crds/ before Argo CD 3.6 (VERSION 3.6.0).
BASE_URL = "https://raw.githubusercontent.com/argoproj/argo-cd/69afa575a24fbb9ca778c686635e0661e13d9116/manifests/crds"
PINNED = {
    "applicationset-crd.yaml": "3dd600079b67cbb5d7b87750464914c1cc62a977cf364b8004c6875fa1fb3f0f",
    "application-crd.yaml": "9fd0da3e7097ad6d1af614fabd5c960bc7ddb00d768c3ef485a2fda6e9460df8",
}
VARIABLES = {
    "applicationset-crd.yaml": ("KUBE_TEST_SERVER_CRD", "APPSET_CRD"),
    "application-crd.yaml": ("KUBE_TEST_SERVER_APPLICATION_CRD", "APPLICATION_CRD"),
}
ROOT = pathlib.Path(__file__).resolve().parents[1]


def say(text):
    print(f"argocd_crds: {text}", file=sys.stderr)


def pinned():
    override = os.environ.get("ARGOCD_CRDS_PINNED", "").split()
    pins = dict(PINNED)
    pins.update(pair.split("=", 1) for pair in override if "=" in pair)
    return pins


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def already_there(name, root, target):
    """Where the test server will find this CRD without a download, or None."""
    for variable in VARIABLES[name]:
        if os.environ.get(variable):
            return f"${variable}"
    for directory in [root, *root.parents]:
        if (directory / "shared/argocd" / name).is_file():
            return str(directory / "shared/argocd" / name)
    return None


def fetch(name, want, target, base_url, timeout):
    """True: in place; False: refused; None: no answer from the network."""
    destination = target / "argocd-crds" / name
    if destination.is_file():
        if sha256(destination.read_bytes()) == want:
            return True
        say(f"{destination}: checksum is not the pinned one; fetching it again")
        destination.unlink()
    url = f"{base_url.rstrip('/')}/{name}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            data = answer.read()
    except (urllib.error.URLError, OSError, ValueError) as err:
        say(f"cannot fetch {url} ({getattr(err, 'reason', err)}): the test server will not validate against it")
        return None
    got = sha256(data)
    if got != want:
        say(f"{url}: SHA-256 {got} is not the pinned {want}: refused, not used")
        return False
    destination.parent.mkdir(parents=True, exist_ok=True)
    # Written next to its place and renamed, so the server never reads half a file.
    with tempfile.NamedTemporaryFile(dir=destination.parent, delete=False) as partial:
        partial.write(data)
    os.replace(partial.name, destination)
    say(f"{name}: downloaded and verified into {destination}")
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=pathlib.Path, default=ROOT, help="the clone (shared/argocd/ is searched from here up)")
    parser.add_argument("--target", type=pathlib.Path, help="cargo target directory (default $CARGO_TARGET_DIR or <root>/target)")
    args = parser.parse_args()
    root = args.root.resolve()
    target = args.target or root / (os.environ.get("CARGO_TARGET_DIR") or "target")
    base_url = os.environ.get("ARGOCD_CRDS_URL") or BASE_URL
    timeout = float(os.environ.get("ARGOCD_CRDS_TIMEOUT") or 5)
    offline = False
    for name, want in pinned().items():
        if name not in VARIABLES or already_there(name, root, target):
            continue
        if offline:
            say(f"{name}: not fetched either, the network did not answer")
            continue
        # None: the network did not answer; the next file would only wait for the timeout again.
        offline = fetch(name, want, target, base_url, timeout) is None
    return 0


if __name__ == "__main__":
    sys.exit(main())
