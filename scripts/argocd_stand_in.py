#!/usr/bin/env python3
"""Tells the test server's Argo CD stand-in how a cluster's Applications are doing, for the demo.

    argocd_stand_in.py KUBECONFIG GLOB HEALTH [MESSAGE]

Scripts every Application whose name matches GLOB to report HEALTH (with MESSAGE) and asks the
stand-in to reconcile the matching ones now, as a refresh in Argo CD would. Only the project's
test server has this control API (/_test/argocd/...); a real hub has none.
"""
import fnmatch
import json
import ssl
import sys
import urllib.parse
import urllib.request

from show_clusters import from_api, simple_kubeconfig


def post(server, path, body=None):
    # The control API listens on 127.0.0.1 only and takes no credentials.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    data = json.dumps(body).encode() if body is not None else b""
    req = urllib.request.Request(f"{server}{path}", data=data, method="POST")
    with urllib.request.urlopen(req, context=ctx) as resp:
        return json.load(resp)


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    kubeconfig, pattern, health = sys.argv[1:4]
    message = sys.argv[4] if len(sys.argv) == 5 else None
    server = simple_kubeconfig(kubeconfig)["server"]
    phase = {"health": health}
    if message:
        phase["message"] = message
    post(server, "/_test/argocd/scripts", {"name": pattern, "steps": [phase]})
    apps = from_api(kubeconfig, "argocd", "apis/argoproj.io/v1alpha1", "applications", None)
    names = sorted(a["metadata"]["name"] for a in apps if fnmatch.fnmatchcase(a["metadata"]["name"], pattern))
    for name in names:
        query = urllib.parse.urlencode({"namespace": "argocd", "name": name})
        post(server, f"/_test/argocd/refresh?{query}")
    print(f"    stand-in Argo CD: {', '.join(names) or '(no Application)'} now {health}")


if __name__ == "__main__":
    main()
