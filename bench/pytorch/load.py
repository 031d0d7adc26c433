"""How many cores other processes keep busy: at the start (busy_cores) and during a row (RowMonitor).
On a 2-core machine a busy core makes torch's OpenMP threads wait on each other."""

import os
import time

LOAD_LIMIT = 0.3  # cores used by other processes above which a row's PyTorch time is flagged


def _stat_sample():
    """(busy jiffies, all jiffies) of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
    return sum(v[:8]) - idle, sum(v[:8])


def busy_cores(seconds=0.5):
    """How many cores other processes kept busy over a short sample (this script sleeps meanwhile)."""
    try:
        b0, t0 = _stat_sample()
        time.sleep(seconds)
        b1, t1 = _stat_sample()
        return (os.cpu_count() or 1) * (b1 - b0) / max(1, t1 - t0)
    except (OSError, ValueError, IndexError):
        return None


class RowMonitor:
    """While a row runs: how many cores other processes used (machine busy time minus this
    process's CPU time) and how many minor page faults this process took."""

    def __enter__(self):
        import resource
        self._resource = resource
        try:
            self.stat0 = _stat_sample()
        except (OSError, ValueError, IndexError):
            self.stat0 = None
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        self.flt0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        return self

    def __exit__(self, *exc):
        wall = max(1e-9, time.perf_counter() - self.wall0)
        self.faults = self._resource.getrusage(self._resource.RUSAGE_SELF).ru_minflt - self.flt0
        self.other = None
        if self.stat0 is not None:
            try:
                b1, t1 = _stat_sample()
                busy = (os.cpu_count() or 1) * (b1 - self.stat0[0]) / max(1, t1 - self.stat0[1])
                self.other = max(0.0, busy - (time.process_time() - self.cpu0) / wall)
            except (OSError, ValueError, IndexError):
                pass
        return False
