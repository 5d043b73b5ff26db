#!/usr/bin/env python3
"""Measures the plugin's start-up: time from exec to the go-plugin handshake line, and idle RSS.

    python3 scripts/handshake_bench.py [binary] [--runs 20]

Starts the binary the way Terraform does (magic cookie, protocol versions, a client
certificate for AutoMTLS), reads the handshake line, samples VmRSS, then stops it.
"""
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
COOKIE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"


def client_cert(work):
    key, cert = work / "client.key", work / "client.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost"],
        check=True, capture_output=True,
    )
    return cert.read_text()


def rss_kib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 20
    binary = args[0] if args and args[0] != str(runs) else str(ROOT / "target/release/terraform-provider-gitopsbridge")
    work = pathlib.Path(tempfile.mkdtemp(prefix="gitopsbridge-handshake"))
    env = dict(
        os.environ,
        TF_PLUGIN_MAGIC_COOKIE=COOKIE,
        PLUGIN_PROTOCOL_VERSIONS="6",
        PLUGIN_UNIX_SOCKET_DIR=str(work),
        PLUGIN_CLIENT_CERT=client_cert(work),
    )
    times, rss = [], []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.Popen([binary], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = proc.stdout.readline()
        times.append((time.perf_counter() - start) * 1000)
        if not line.startswith("1|6|"):
            proc.kill()
            sys.exit(f"unexpected handshake line: {line!r}")
        rss.append(rss_kib(proc.pid))
        proc.terminate()
        proc.wait()
    size = pathlib.Path(binary).stat().st_size
    print(f"handshake: median {statistics.median(times):.1f} ms, min {min(times):.1f} ms over {runs} starts")
    print(f"idle RSS after handshake: median {statistics.median(rss) / 1024:.1f} MiB")
    print(f"binary size: {size / 1024 / 1024:.1f} MiB ({binary})")


if __name__ == "__main__":
    main()
