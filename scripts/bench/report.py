"""BENCHMARKS.md from the results of one run, with the hand-written profile findings
(findings.md beside this file) in the middle."""
import math
import pathlib
import statistics

from matrix import LABELS, OPERATIONS

FINDINGS = pathlib.Path(__file__).resolve().parent / "findings.md"
TARGETS = {"plan": 1.2, "refresh_plan": 1.3, "apply": 1.3}
HANDSHAKE_MS = 5.0
PEAK_RSS_MB = 20.0


def _median(values):
    return statistics.median(values) if values else float("nan")


def _caption(results):
    m = results["machine"]
    runs = f"{results['runs']} runs ({results.get('largest_runs', results['runs'])} at N={max(results['sizes'])})"
    return (
        f"_{m['date']}; {m['terraform']}; provider {m.get('commit', '?')}; {m['cpu']}, {m['cores']} cores, "
        f"{m['memory_gib']} GiB; load average {m['load_before']:.1f} before, "
        f"{m.get('load_after', float('nan')):.1f} after; medians of {runs}._"
    )


def _ratio(results, kind, n, op):
    times = results["matrix"][kind][str(n)]["times"][op]
    return _median(times["ours"]) / _median(times["floor"])


def _per_resource(count, n):
    return f"{count / n:.2f}" if n else "-"


def _status(ok):
    return "met" if ok else "**not met**"


def targets(results):
    largest = max(results["sizes"])
    kinds = [k for k in results["types"] if k in results["matrix"]]
    rows = []
    for op, limit in TARGETS.items():
        for kind in kinds:
            ratio = _ratio(results, kind, largest, op)
            rows.append((f"{LABELS[op]} ≤ {limit}× terraform_data, N={largest}", kind, f"{ratio:.2f}×", _status(ratio <= limit)))
    hs = results["handshake"]
    rows.append((f"handshake ≤ {HANDSHAKE_MS:g} ms", "provider", f"{hs['median_ms']:.1f} ms (min {hs['min_ms']:.1f})",
                 _status(hs["median_ms"] <= HANDSHAKE_MS)))
    for kind in kinds:
        peak = results["matrix"][kind][str(largest)]["probe"]["apply"]["peak_rss_kib"] * 1024 / 1e6
        rows.append((f"peak RSS ≤ {PEAK_RSS_MB:g} MB during the N={largest} apply", kind, f"{peak:.1f} MB",
                     _status(peak <= PEAK_RSS_MB)))
    for kind in kinds:
        if kind == "weighted_route":
            continue
        probe = results["matrix"][kind][str(largest)]["probe"]["refresh_plan"]
        per = sum(probe["kube_requests"].values()) / largest
        rows.append(("≤ 1 Kubernetes request per resource per refresh", kind, f"{per:.3f}", _status(per <= 1)))
    if "weighted_route" in kinds:
        for n in results["sizes"]:
            lists = results["matrix"]["weighted_route"][str(n)]["probe"]["refresh_plan"]["route53_requests"].get(
                "ListResourceRecordSets", 0)
            limit = math.ceil(n / 300) + 2
            rows.append((f"Route53 refresh of N={n} records ≤ ceil(N/300)+2 = {limit} list calls", "weighted_route",
                         str(lists), _status(lists <= limit)))
    out = ["| target | resource | measured | |", "|---|---|---|---|"]
    out += [f"| {t} | {k} | {m} | {s} |" for t, k, m, s in rows]
    return "\n".join(out)


def timings(results, kind, ops=OPERATIONS):
    """Medians per N and operation: ours, each floor, ours against terraform_data, and the
    schema-shaped terraform_data against ours (how much of our time Terraform spends on a value
    of our schema's shape anyway)."""
    out = ["| N | operation | gitopsbridge (s) | terraform_data (s) | ratio | schema-shaped terraform_data (s) | "
           "shaped / ours |", "|---:|---|---:|---:|---:|---:|---:|"]
    for n in results["sizes"]:
        for op in ops:
            times = results["matrix"][kind][str(n)]["times"][op]
            ours, floor, shaped = (_median(times.get(who, [])) for who in ("ours", "floor", "shaped"))
            out.append(f"| {n} | {LABELS[op]} | {ours:.2f} | {floor:.2f} | {ours / floor:.2f}× | "
                       + (f"{shaped:.2f} | {shaped / ours:.2f}× |" if times.get("shaped") else "- | - |"))
    return "\n".join(out)


def partial(results):
    """The rows a run limited to some operations measured, with the machine they ran on."""
    parts = []
    for kind in [k for k in results["types"] if k in results["matrix"]]:
        ops = [op for op in OPERATIONS if op in next(iter(results["matrix"][kind].values()))["times"]]
        parts += [f"### {kind}", "", timings(results, kind, ops), ""]
    return "\n".join(parts + [_caption(results)])


def api_calls(results, kind):
    route53 = kind == "weighted_route"
    out = ["| N | operation | requests | per resource |" + (" moto's mean answer time |" if route53 else ""),
           "|---:|---|---|---:|" + ("---|" if route53 else "")]
    for n in results["sizes"]:
        probe = results["matrix"][kind][str(n)]["probe"]
        for op in OPERATIONS:
            counts = probe[op]["route53_requests"] if route53 else probe[op]["kube_requests"]
            total = sum(counts.values())
            listed = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "none"
            row = f"| {n} | {LABELS[op]} | {listed} | {_per_resource(total, n)} |"
            if route53:
                latency = probe[op].get("moto_latency_ms", {})
                row += " " + (", ".join(f"{k} {v:.0f} ms" for k, v in sorted(latency.items())) or "-") + " |"
            out.append(row)
    return "\n".join(out)


def cpu_split(results, kind, n):
    out = [
        "| operation | wall (s) | Terraform CPU (s) | plugin CPU (s) | API server CPU (s) | plugin processes seen | "
        "timed runs: CPU of terraform and plugins, ours / terraform_data (s) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    entry = results["matrix"][kind][str(n)]
    for op in OPERATIONS:
        p = entry["probe"][op]
        server = p["moto_cpu"] if kind == "weighted_route" else p["hub_cpu"]
        used = entry.get("cpu", {}).get(op, {"ours": [], "floor": []})
        out.append(
            f"| {LABELS[op]} | {p['wall']:.2f} | {p['terraform_cpu']:.2f} | {p['plugin_cpu']:.2f} | {server:.2f} | "
            f"{p['plugin_starts']} | {_median(used['ours']):.2f} / {_median(used['floor']):.2f} |"
        )
    return "\n".join(out)


def rpcs(results, kind, n):
    probe = results["matrix"][kind][str(n)]["probe"]
    names = sorted({name for op in OPERATIONS for name in probe[op]["rpcs"]})
    out = ["| operation | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for op in OPERATIONS:
        cells = []
        for name in names:
            calls, micros = probe[op]["rpcs"].get(name, (0, 0))
            cells.append(f"{calls} / {micros / 1000:.0f} ms" if calls else "")
        out.append(f"| {LABELS[op]} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def write(results, path):
    caption = _caption(results)
    largest = max(results["sizes"])
    kinds = [k for k in results["types"] if k in results["matrix"]]
    hs = results["handshake"]
    parts = [
        "# Benchmarks",
        "",
        "Written by `make bench` (scripts/bench): it builds the release provider, starts the Kubernetes API test "
        "server (hub), `moto_server` (Route53) behind a counting proxy, and runs `terraform` on N resources of each "
        "type beside N `terraform_data` whose `input` holds the same values (Terraform tracking the same data "
        "without a plugin), and beside N `terraform_data` holding them in the resource's schema shape (every "
        "attribute and block, unset ones null or empty: Terraform's cost per attribute without a plugin). Every "
        "operation alternates between the roots; the first cycle of each "
        "type and N is an untimed probe that counts API requests, plugin RPCs, CPU time per process and peak RSS. "
        "The machine is whatever ran it: compare ratios, not seconds, across machines.",
        "",
        "![time against N](BENCHMARKS.svg)",
        "",
        "## Targets",
        "",
        targets(results),
        "",
        caption,
        "",
        "## The plugin process",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| handshake (exec to handshake line), median of {hs['runs']} | {hs['median_ms']:.1f} ms |",
        f"| handshake, fastest | {hs['min_ms']:.1f} ms |",
        f"| idle RSS after the handshake | {hs['idle_rss_kib'] * 1024 / 1e6:.1f} MB |",
        f"| release binary | {hs['binary_bytes'] / 1e6:.1f} MB |",
    ]
    for kind in kinds:
        for op in ("apply", "update"):
            peak = results["matrix"][kind][str(largest)]["probe"][op]["peak_rss_kib"]
            parts.append(f"| peak RSS (VmHWM) of any plugin process, {kind} {LABELS[op]} N={largest} | "
                         f"{peak * 1024 / 1e6:.1f} MB |")
    parts += ["", caption, ""]
    parts += ["## Time", ""]
    for kind in kinds:
        parts += [f"### {kind}", "", timings(results, kind), "", caption, ""]
    parts += ["## API calls per operation", "",
              "Counted at the hub test server (`/_test/requests`) and at the proxy in front of moto, during the probe "
              "cycle.", ""]
    for kind in kinds:
        parts += [f"### {kind}", "", api_calls(results, kind), "", caption, ""]
    parts += ["## Where the time goes (probe cycle, N=%d)" % largest, "",
              "CPU seconds per process: Terraform (the `terraform` process and its children minus the plugins), "
              "the plugin processes (sampled from /proc), the API server (hub test server or moto). Then the "
              "plugin RPCs as the provider logs them: calls / total time inside the provider.", ""]
    for kind in kinds:
        parts += [f"### {kind}", "", cpu_split(results, kind, largest), "", rpcs(results, kind, largest), "",
                  caption, ""]
    if FINDINGS.exists():
        parts += [FINDINGS.read_text().strip(), ""]
    path.write_text("\n".join(parts))
