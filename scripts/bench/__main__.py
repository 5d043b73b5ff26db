"""`make bench`: the provider against Terraform's floor (`terraform_data`), written to
BENCHMARKS.md and BENCHMARKS.svg.

    python3 scripts/bench [--n 10,100,500] [--runs 5] [--largest-runs 3]
                          [--types cluster_metadata,...] [--ops plan,...]
                          [--no-build | --binary PATH] [--report-only]

Builds the release provider and the hub test server (unless --no-build), starts the hub test
server, moto_server and a counting proxy in front of moto, measures the handshake, runs the
matrix (see matrix.py), keeps the raw results in target/bench/results.json and writes the
report and the plot from them. With --ops (some of plan, apply, refresh_plan, update, destroy)
it runs only those rows, prints them and keeps them in target/bench/partial.json: BENCHMARKS.md
is written from complete runs only.
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ beside the scripts
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import handshake  # noqa: E402
import matrix  # noqa: E402
import plot  # noqa: E402
import report  # noqa: E402
import roots  # noqa: E402
import stand_ins  # noqa: E402

ROOT = stand_ins.ROOT
RESULTS = ROOT / "target/bench/results.json"
PARTIAL = ROOT / "target/bench/partial.json"
MIRROR = ROOT / "target/bench/mirror"


def progress(message, _started=time.monotonic()):
    print(f"[{time.monotonic() - _started:6.0f}s] {message}", flush=True)


def machine():
    cpu = "unknown CPU"
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = int(pathlib.Path("/proc/meminfo").read_text().split()[1])
    terraform = subprocess.run(["terraform", "version"], capture_output=True, text=True).stdout.splitlines()[0]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024),
        "kernel": platform.release(),
        "terraform": terraform,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True,
                                 text=True).stdout.strip(),
        "load_before": os.getloadavg()[0],
    }


def build():
    progress("building the release provider and the hub test server")
    subprocess.run(["make", "-C", str(ROOT), "--no-print-directory", "install", f"MIRROR={MIRROR}"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["cargo", "build", "--locked", "--quiet", "--release", "-p", "kube-test-server"], cwd=ROOT,
                   check=True)


def install(binary):
    """Puts a given binary where `make install` would (to compare builds)."""
    version = next(line.split('"')[1] for line in (ROOT / "Cargo.toml").read_text().splitlines()
                   if line.startswith("version = "))
    target = next(MIRROR.rglob("terraform-provider-gitopsbridge_v*"), None)
    if target is None:
        os_arch = f"{platform.system().lower()}_{ {'x86_64': 'amd64', 'aarch64': 'arm64'}.get(platform.machine(), platform.machine())}"
        target = MIRROR / f"registry.terraform.io/gitops-bridge/gitopsbridge/{version}/{os_arch}/terraform-provider-gitopsbridge_v{version}"
        target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(binary, target)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", default="10,100,500")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per type and N")
    parser.add_argument("--largest-runs", type=int, default=3, help="timed runs at the largest N")
    parser.add_argument("--types", default=",".join(roots.TYPES))
    parser.add_argument("--ops", help="run only these operations (comma-separated); BENCHMARKS.md stays as it is")
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--binary", help="measure this provider binary instead of building one")
    parser.add_argument("--report-only", action="store_true", help="rewrite the report from the last results")
    args = parser.parse_args()

    if args.report_only:
        results = json.loads(RESULTS.read_text())
    else:
        if not shutil.which("terraform"):
            sys.exit("terraform (>= 1.11) is not installed")
        if args.binary:
            install(pathlib.Path(args.binary))
        elif not args.no_build:
            build()
        results = run(args)
        if args.ops:
            PARTIAL.parent.mkdir(parents=True, exist_ok=True)
            PARTIAL.write_text(json.dumps(results, indent=1))
            print(report.partial(results))
            progress(f"wrote {PARTIAL.relative_to(ROOT)}; BENCHMARKS.md left as it is")
            return
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=1))
    report.write(results, ROOT / "BENCHMARKS.md")
    plot.write(results, ROOT / "BENCHMARKS.svg")
    progress("wrote BENCHMARKS.md and BENCHMARKS.svg")


def run(args):
    sizes = [int(n) for n in args.n.split(",")]
    kinds = args.types.split(",")
    binary = next(MIRROR.rglob("terraform-provider-gitopsbridge_v*"))
    results = {"machine": machine(), "runs": args.runs, "largest_runs": args.largest_runs, "sizes": sizes,
               "types": kinds}
    progress(f"{results['machine']['terraform']}, {results['machine']['cores']} cores, load {results['machine']['load_before']:.1f}")
    results["handshake"] = handshake.measure(str(binary))
    progress(f"handshake median {results['handshake']['median_ms']:.1f} ms")

    work = pathlib.Path(tempfile.mkdtemp(prefix="gitopsbridge-bench"))
    env = roots.environment(roots.cli_config(work, MIRROR))
    hub = stand_ins.Hub(work)
    moto = stand_ins.Moto(work)
    proxy = stand_ins.CountingProxy(moto.port)
    try:
        ops = args.ops.split(",") if args.ops else matrix.OPERATIONS
        unknown = set(ops) - set(matrix.OPERATIONS)
        if unknown:
            sys.exit(f"unknown operations {sorted(unknown)}; known: {', '.join(matrix.OPERATIONS)}")
        bench = matrix.Bench(work, env, hub, moto, proxy, progress, ops)
        results["matrix"] = {}
        for kind in kinds:
            for n in sizes:
                runs = args.largest_runs if n == max(sizes) else args.runs
                results["matrix"].setdefault(kind, {})[str(n)] = bench.measure(kind, n, runs)
    except BaseException:
        print(f"work directory kept: {work}", file=sys.stderr)
        raise
    else:
        shutil.rmtree(work, ignore_errors=True)
    finally:
        proxy.stop()
        moto.stop()
        hub.stop()
    results["machine"]["load_after"] = os.getloadavg()[0]
    return results


if __name__ == "__main__":
    main()
