"""The plugin's start-up: time from exec to the go-plugin handshake line, started the way
Terraform starts it (magic cookie, protocol versions, a client certificate for AutoMTLS)."""
import os
import pathlib
import statistics
import subprocess
import tempfile
import time

COOKIE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"


def client_cert(work):
    key, cert = work / "client.key", work / "client.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost"],
        check=True, capture_output=True,
    )
    return cert.read_text()


def _status_kib(pid, field):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def measure(binary, runs=30):
    """Median and minimum handshake time (ms) over `runs` starts, idle RSS after the handshake (KiB)."""
    work = pathlib.Path(tempfile.mkdtemp(prefix="gitopsbridge-handshake"))
    env = dict(
        os.environ,
        TF_PLUGIN_MAGIC_COOKIE=COOKIE,
        PLUGIN_PROTOCOL_VERSIONS="6",
        PLUGIN_UNIX_SOCKET_DIR=str(work),
        PLUGIN_CLIENT_CERT=client_cert(work),
    )
    for key in ("TF_LOG", "TF_LOG_PROVIDER"):
        env.pop(key, None)
    times, rss = [], []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.Popen([binary], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = proc.stdout.readline()
        times.append((time.perf_counter() - start) * 1000)
        if not line.startswith("1|6|"):
            proc.kill()
            raise RuntimeError(f"unexpected handshake line: {line!r}")
        rss.append(_status_kib(proc.pid, "VmRSS"))
        proc.terminate()
        proc.wait()
    return {
        "median_ms": statistics.median(times),
        "min_ms": min(times),
        "runs": runs,
        "idle_rss_kib": statistics.median(rss),
        "binary_bytes": pathlib.Path(binary).stat().st_size,
    }
