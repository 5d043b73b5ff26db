"""Watches the provider processes Terraform starts: their CPU time and peak RSS (VmHWM), sampled
from /proc every few milliseconds. Used on untimed runs only: sampling costs a little CPU."""
import os
import pathlib
import threading

PLUGIN_COMM = "terraform-provi"  # /proc/<pid>/comm is cut at 15 characters
TICKS = os.sysconf("SC_CLK_TCK")


def _children(pid):
    found = []
    try:
        for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
            try:
                found.extend(int(c) for c in (task / "children").read_text().split())
            except OSError:
                pass
    except OSError:
        pass
    return found


class PluginProbe:
    """Samples every plugin process below `pid` until stopped."""

    def __init__(self, pid, interval=0.005):
        self.pid = pid
        self.interval = interval
        self.plugins = {}  # pid -> {"cpu": seconds, "hwm_kib": peak RSS}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self, pid):
        try:
            base = pathlib.Path(f"/proc/{pid}")
            if not (base / "comm").read_text().startswith(PLUGIN_COMM):
                return
            stat = (base / "stat").read_text().rsplit(")", 1)[1].split()
            cpu = (int(stat[11]) + int(stat[12])) / TICKS
            hwm = next(
                (int(line.split()[1]) for line in (base / "status").read_text().splitlines() if line.startswith("VmHWM:")),
                0,
            )
        except (OSError, IndexError, ValueError):
            return
        seen = self.plugins.setdefault(pid, {"cpu": 0.0, "hwm_kib": 0})
        seen["cpu"] = max(seen["cpu"], cpu)
        seen["hwm_kib"] = max(seen["hwm_kib"], hwm)

    def _run(self):
        while not self._stop.is_set():
            for child in _children(self.pid):
                self._sample(child)
            self._stop.wait(self.interval)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return {
            "starts": len(self.plugins),
            "cpu": sum(p["cpu"] for p in self.plugins.values()),
            "peak_rss_kib": max((p["hwm_kib"] for p in self.plugins.values()), default=0),
        }
