"""ember's Google Benchmark JSON: the time (and items/s, FLOP/s) of each benchmark by name."""

import json
import re
import statistics

from .log import warn

_UNIT = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
_GB_SUFFIX = re.compile(r"^(min_time|min_warmup_time|iterations|repeats|threads|real_time|manual_time|"
                        r"process_time)(:.*)?$")


def normalize_name(name):
    """Drop the modifiers Google Benchmark appends to a name (/iterations:1, /real_time, ...)."""
    parts = name.split("/")
    while len(parts) > 1 and _GB_SUFFIX.match(parts[-1]):
        parts.pop()
    return "/".join(parts)


def load_ember(paths):
    """name -> {"seconds", "items_per_second", "source"}; plus the merged contexts."""
    runs, medians, contexts = {}, {}, []
    for path in paths:
        try:
            with open(path) as f:
                text = f.read()
        except OSError as e:
            raise SystemExit(f"error: cannot read ember's benchmark JSON {path}: {e}")
        try:
            doc = json.loads(text)
        except ValueError as e:
            # --benchmark_format=json > FILE also catches whatever the program printed before the JSON
            m = re.search(r'^\{\s*"context"', text, re.MULTILINE)
            try:
                doc = json.JSONDecoder().raw_decode(text[m.start():])[0] if m else None
            except ValueError:
                doc = None
            if doc is None:
                raise SystemExit(f"error: {path} is not Google Benchmark JSON: {e}")
        if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
            raise SystemExit(f"error: {path} is not Google Benchmark JSON (no 'benchmarks' list)")
        contexts.append(doc.get("context", {}))
        for b in doc["benchmarks"]:
            if b.get("error_occurred") or b.get("skipped"):
                warn(f"{path}: {b.get('name')} reported an error/skip: {b.get('error_message', '')}")
                continue
            if "real_time" not in b or "name" not in b:
                continue
            unit = b.get("time_unit", "ns")
            if unit not in _UNIT:
                warn(f"{path}: {b['name']}: unknown time_unit {unit!r}, skipped")
                continue
            rec = {"seconds": float(b["real_time"]) * _UNIT[unit],
                   "items_per_second": b.get("items_per_second"), "flops": b.get("FLOP/s")}
            if b.get("run_type") == "aggregate":
                if b.get("aggregate_name") != "median":
                    continue
                base = b.get("run_name") or re.sub(r"_median$", "", b["name"])
                medians[normalize_name(base)] = dict(rec, source="median aggregate")
            else:
                base = b.get("run_name") or b["name"]
                runs.setdefault(normalize_name(base), []).append(rec)
    out = {}
    for name, recs in runs.items():
        ips = [r["items_per_second"] for r in recs if r["items_per_second"] is not None]
        flops = [r["flops"] for r in recs if r["flops"] is not None]
        out[name] = {"seconds": statistics.median(r["seconds"] for r in recs),
                     "items_per_second": statistics.median(ips) if ips else None,
                     "flops": statistics.median(flops) if flops else None,
                     "source": "1 run" if len(recs) == 1 else f"median of {len(recs)} runs"}
    out.update(medians)  # a median aggregate wins over the individual repetitions
    return out, contexts


def machine_peak(ember, threads):
    """The float32 multiply-add peak ember_bench measured in its run (machine/fma_peak), as text."""
    one, many = ember.get("machine/fma_peak/one_thread"), ember.get("machine/fma_peak/all_threads")
    if not one or not one.get("flops"):
        return None
    text = f"Float32 multiply-add peak in ember's run (machine/fma_peak): {one['flops'] / 1e9:.0f} GFLOP/s on 1 thread"
    if many and many.get("flops"):
        text += f", {many['flops'] / 1e9:.0f} on {threads}"
    return text
