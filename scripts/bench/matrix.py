"""The timing matrix: for each resource type and N, five Terraform operations on our resources
and on as many `terraform_data` of each floor (our configuration's values; the same in our
schema's shape), interleaved, several runs each (wall time, and CPU time of terraform with its
plugins). Before the timed runs one untimed probe cycle of our resources counts API requests (at
the hub test server and at the proxy in front of moto), plugin RPCs, CPU time per process and
peak RSS. A subset of the operations may be run (`ops`); any but `plan` brings apply and destroy
along, since it needs the state they make and remove."""
import collections
import re
import time

import roots

OPERATIONS = ("plan", "apply", "refresh_plan", "update", "destroy")
LABELS = {
    "plan": "plan (empty state)",
    "apply": "apply (create)",
    "refresh_plan": "plan with refresh",
    "update": "apply (update all)",
    "destroy": "destroy",
}


def arguments(op):
    """terraform arguments of an operation; `rev` 2 changes every resource."""
    return {
        "plan": ["plan", "-input=false", "-var", "rev=1"],
        "apply": ["apply", "-input=false", "-auto-approve", "-var", "rev=1"],
        "refresh_plan": ["plan", "-input=false", "-detailed-exitcode", "-var", "rev=1"],
        "update": ["apply", "-input=false", "-auto-approve", "-var", "rev=2"],
        "destroy": ["destroy", "-input=false", "-auto-approve", "-var", "rev=2"],
    }[op]


RPC_NAME = re.compile(r"\brpc=(\w+)")
RPC_DURATION = re.compile(r"\bduration_us=(\d+)")


def rpc_stats(log_path):
    """{rpc: [calls, total microseconds inside the provider]} from the provider's debug log."""
    stats = collections.defaultdict(lambda: [0, 0])
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return {}
    # Terraform re-emits the provider's fields in no fixed order.
    for line in text.splitlines():
        if "rpc finished" not in line:
            continue
        name, duration = RPC_NAME.search(line), RPC_DURATION.search(line)
        if name and duration:
            entry = stats[name.group(1)]
            entry[0] += 1
            entry[1] += int(duration.group(1))
    return dict(stats)


class Bench:
    def __init__(self, work, env, hub, moto, proxy, progress, ops=OPERATIONS):
        self.work, self.env, self.hub, self.moto, self.proxy = work, env, hub, moto, proxy
        self.progress = progress
        wanted = set(ops)
        if wanted - {"plan"}:
            wanted |= {"apply", "destroy"}
        self.ops = [op for op in OPERATIONS if op in wanted]
        self.zone_id = None

    def _ours_args(self, kind, op):
        if kind != "weighted_route":
            return arguments(op)
        if op == "plan":
            # A fresh zone each cycle: moto refuses to re-create a record it once deleted while
            # other records sort after it.
            self.zone_id = self.moto.create_zone("bench.example.com")
        return arguments(op) + ["-var", f"endpoint={self.proxy.endpoint}", "-var", f"zone_id={self.zone_id}"]

    def _run(self, root, args, env=None, probe=False):
        try:
            return roots.terraform(root, env or self.env, *args, probe=probe)
        except roots.TerraformFailed as failed:
            # `plan -detailed-exitcode` exits 2 when there are changes: a refresh that finds
            # drift is a benchmark failure, not a result.
            raise SystemExit(str(failed))

    def probe_cycle(self, kind, n, ours_root):
        """One untimed cycle with every counter on."""
        found = {}
        for op in self.ops:
            log = self.work / "logs" / f"{kind}-{n}-{op}.log"
            log.parent.mkdir(exist_ok=True)
            env = dict(self.env, TF_LOG_PROVIDER="debug", TF_LOG_PATH=str(log))
            args = self._ours_args(kind, op)
            self.hub.reset_requests()
            self.proxy.reset()
            hub_cpu, moto_cpu = self.hub.cpu_seconds(), self.moto.cpu_seconds()
            wall, cpu, plugins = self._run(ours_root, args, env, probe=True)
            hub_cpu, moto_cpu = self.hub.cpu_seconds() - hub_cpu, self.moto.cpu_seconds() - moto_cpu
            kube = self.hub.request_counts()
            route53 = self.proxy.snapshot()
            moto_ms = self.proxy.latency_ms()
            found[op] = {
                "wall": wall,
                "terraform_cpu": cpu - plugins["cpu"],
                "plugin_cpu": plugins["cpu"],
                "plugin_starts": plugins["starts"],
                "peak_rss_kib": plugins["peak_rss_kib"],
                "hub_cpu": hub_cpu,
                "moto_cpu": moto_cpu,
                "kube_requests": kube,
                "route53_requests": route53,
                "moto_latency_ms": moto_ms,
                "rpcs": rpc_stats(log),
            }
            log.unlink(missing_ok=True)
        return found

    def measure(self, kind, n, runs):
        """Probe cycle, then `runs` timed cycles; returns the probe and the timings."""
        ours_root = roots.setup(
            self.work, f"{kind}-{n}", roots.ours(kind, n, self.hub.kubeconfig), self.env
        )
        floor_root = roots.setup(self.work, f"floor-{kind}-{n}", roots.floor(kind, n), self.env)
        schema = roots.resource_schema(ours_root, self.env, kind)
        shaped_root = roots.setup(self.work, f"shaped-{kind}-{n}", roots.shaped_floor(kind, n, schema), self.env)
        started = time.monotonic()
        probe = self.probe_cycle(kind, n, ours_root)
        self.progress(f"{kind} N={n}: probe cycle {time.monotonic() - started:.0f}s")
        roots_by_who = [("ours", ours_root), ("floor", floor_root), ("shaped", shaped_root)]
        times = {op: {who: [] for who, _ in roots_by_who} for op in self.ops}
        cpu = {op: {who: [] for who, _ in roots_by_who} for op in self.ops}
        for run in range(runs):
            for op in self.ops:
                # Each root goes first, second and last in turn.
                order = roots_by_who[run % 3:] + roots_by_who[:run % 3]
                for who, root in order:
                    args = self._ours_args(kind, op) if who == "ours" else arguments(op)
                    wall, used, _ = self._run(root, args)
                    times[op][who].append(wall)
                    cpu[op][who].append(used)
            self.progress(
                f"{kind} N={n}: run {run + 1}/{runs} (ours/floor/shaped) "
                + " ".join(f"{op}={times[op]['ours'][-1]:.2f}/{times[op]['floor'][-1]:.2f}/{times[op]['shaped'][-1]:.2f}s"
                           for op in self.ops)
            )
        return {"probe": probe, "times": times, "cpu": cpu}
