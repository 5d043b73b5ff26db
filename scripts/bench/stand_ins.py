"""The services a benchmark talks to: the Kubernetes API test server as the hub, moto_server for
Route53, and a counting proxy in front of moto (moto itself counts nothing)."""
import http.client
import http.server
import json
import os
import pathlib
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hub:
    """kube-test-server (the release build, or $KUBE_TEST_SERVER) with Argo CD's CRDs, and its
    control API."""

    def __init__(self, work):
        self.kubeconfig = work / "hub.kubeconfig"
        # Argo CD's CRDs as the test server finds them (see scripts/argocd_crds.py).
        subprocess.run([sys.executable, str(ROOT / "scripts/argocd_crds.py")], check=False)
        self.proc = subprocess.Popen(
            [os.environ.get("KUBE_TEST_SERVER", str(ROOT / "target/release/kube-test-server")), "--argocd", "--kubeconfig", str(self.kubeconfig)],
            stdout=subprocess.PIPE, text=True,
        )
        line = self.proc.stdout.readline()
        match = re.match(r"listening on (https://\S+)", line)
        if not match:
            self.proc.kill()
            sys.exit(f"hub test server did not start: {line!r}")
        self.url = match.group(1)
        self._tls = ssl.create_default_context()
        self._tls.check_hostname = False
        self._tls.verify_mode = ssl.CERT_NONE

    def _control(self, path, method="GET"):
        request = urllib.request.Request(self.url + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(request, context=self._tls) as answer:
            return json.load(answer)

    def reset_requests(self):
        self._control("/_test/requests/reset", "POST")

    def request_counts(self):
        """{"<verb> <resource>": n} since the last reset."""
        return self._control("/_test/requests")["counts"]

    def cpu_seconds(self):
        return process_cpu_seconds(self.proc.pid)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


class Moto:
    """moto_server on a free port, installed with pip when missing (as `make demo` does)."""

    def __init__(self, work):
        if not shutil.which("moto_server"):
            subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "moto[server]"], check=True)
        self.port = free_port()
        self.log = open(work / "moto.log", "w")
        self.proc = subprocess.Popen(
            ["moto_server", "-H", "127.0.0.1", "-p", str(self.port)], stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.endpoint = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=2):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    sys.exit("moto_server did not start; see " + str(work / "moto.log"))
                time.sleep(0.1)

    def create_zone(self, name):
        """Creates a public hosted zone and returns its bare id."""
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<CreateHostedZoneRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
            f"<Name>{name}</Name><CallerReference>bench-{time.time_ns()}</CallerReference>"
            "</CreateHostedZoneRequest>"
        )
        # moto tells services apart by the signing scope of the Authorization header.
        headers = {
            "Content-Type": "application/xml",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/route53/aws4_request, "
                             "SignedHeaders=host, Signature=0",
        }
        request = urllib.request.Request(
            self.endpoint + "/2013-04-01/hostedzone", data=body.encode(), headers=headers, method="POST"
        )
        with urllib.request.urlopen(request) as answer:
            text = answer.read().decode()
        return re.search(r"<Id>/hostedzone/([^<]+)</Id>", text).group(1)

    def cpu_seconds(self):
        return process_cpu_seconds(self.proc.pid)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.log.close()


def route53_operation(method, path):
    """The Route53 operation of a REST-XML request."""
    parts = path.split("?")[0].removeprefix("/2013-04-01/").strip("/").split("/")
    table = {
        ("GET", "hostedzone", 3, "rrset"): "ListResourceRecordSets",
        ("POST", "hostedzone", 3, "rrset"): "ChangeResourceRecordSets",
    }
    if len(parts) == 3 and (method, parts[0], 3, parts[2]) in table:
        return table[(method, parts[0], 3, parts[2])]
    if method == "GET" and len(parts) == 2 and parts[0] == "change":
        return "GetChange"
    if method == "GET" and parts == ["hostedzonesbyname"]:
        return "ListHostedZonesByName"
    if method == "GET" and len(parts) == 2 and parts[0] == "hostedzone":
        return "GetHostedZone"
    return f"{method} {'/'.join(parts)}"


class CountingProxy:
    """Forwards every request to moto, counts them per Route53 operation, and passes changes on
    one at a time: moto (unlike Route53) loses records when changes to one zone arrive at once."""

    def __init__(self, upstream_port):
        self.counts = {}
        self.seconds = {}
        self.lock = threading.Lock()
        self.write_lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                with proxy.lock:
                    op = route53_operation(self.command, self.path)
                    proxy.counts[op] = proxy.counts.get(op, 0) + 1
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
                upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=120)
                if self.command == "GET":
                    answer, data, took = _exchange(upstream, self.command, self.path, body, headers)
                else:
                    with proxy.write_lock:
                        answer, data, took = _exchange(upstream, self.command, self.path, body, headers)
                with proxy.lock:
                    proxy.seconds[op] = proxy.seconds.get(op, 0.0) + took
                self.send_response(answer.status, answer.reason)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

            do_GET = do_POST = do_PUT = do_DELETE = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self):
        with self.lock:
            self.counts = {}
            self.seconds = {}

    def snapshot(self):
        with self.lock:
            return dict(self.counts)

    def latency_ms(self):
        """Mean time moto took to answer, per operation, since the last reset."""
        with self.lock:
            return {op: 1000 * self.seconds[op] / self.counts[op] for op in self.seconds if self.counts.get(op)}

    def stop(self):
        self.server.shutdown()


def _exchange(connection, method, path, body, headers):
    start = time.perf_counter()
    connection.request(method, path, body=body, headers=headers)
    answer = connection.getresponse()
    data = answer.read()
    return answer, data, time.perf_counter() - start


def process_cpu_seconds(pid):
    """User + system CPU seconds of a running process."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
