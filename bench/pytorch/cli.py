"""The command line of bench/compare_pytorch.py and its main(): time every row in PyTorch, pair it
with ember's time from the JSON, print the table and write the table and plot files."""

import argparse
import datetime
import os
import re
import shlex
import sys
import time

from .blas import check_blas
from .ember_json import load_ember, machine_peak
from .idx import load_data
from .load import LOAD_LIMIT, RowMonitor, busy_cores
from .log import progress, warn
from .machine import cpu_model, torch_package
from .report import fmt_value, make_plot, make_table
from .rows import Ctx, build_rows
from .timing import time_epoch, time_kernel


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Time PyTorch on ember's benchmark names and print an ember vs PyTorch table.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ember-json", nargs="+", metavar="FILE",
                   help="Google Benchmark JSON output of ember's benchmarks (one or more files). "
                        "Without it the ember column is all '-'.")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--mnist-dir", default=os.environ.get("MNIST_DIR"),
                   help="folder with the MNIST IDX files (default $MNIST_DIR; only the training split "
                        "is read, as by ember's benchmarks); without it random images and labels are used")
    p.add_argument("--out", help="write the markdown table (with a header line) to this file")
    p.add_argument("--plot", help="write a PNG bar chart of the ratios to this file")
    p.add_argument("--quick", action="store_true",
                   help="few, short repetitions (for trying the script out; numbers are noisier)")
    p.add_argument("--reps", type=int, help="repetitions per kernel row (default 7, 3 with --quick)")
    p.add_argument("--min-time", type=float,
                   help="seconds per kernel repetition (default 0.2, 0.03 with --quick)")
    p.add_argument("--epoch-reps", type=int,
                   help="timed epochs per epoch row (default 3, 1 with --quick)")
    p.add_argument("--warmup-steps", type=int, default=50,
                   help="training steps run before the timed epochs of each epoch row (default 50)")
    p.add_argument("--flush-denormal", action="store_true",
                   help="torch.set_flush_denormal(True) (off by default)")
    p.add_argument("--filter", metavar="REGEX",
                   help="time only the PyTorch rows whose name matches REGEX (re.search); "
                        "the other rows are left out of the table")
    a = p.parse_args(argv)
    if a.threads < 1:
        p.error("--threads must be at least 1")
    if a.reps is None:
        a.reps = 3 if a.quick else 7
    if a.min_time is None:
        a.min_time = 0.03 if a.quick else 0.2
    if a.epoch_reps is None:
        a.epoch_reps = 1 if a.quick else 3
    if a.reps < 1 or a.epoch_reps < 1 or a.min_time <= 0:
        p.error("--reps, --epoch-reps and --min-time must be positive")
    return a


def main(argv):
    args = parse_args(argv)
    ember, contexts = ({}, [])
    if args.ember_json:
        ember, contexts = load_ember(args.ember_json)
    else:
        warn("no --ember-json: the ember column is empty")
    other_load = busy_cores()
    if other_load is not None and other_load > LOAD_LIMIT:
        warn(f"other processes keep {other_load:.1f} of {os.cpu_count()} cores busy: torch's OpenMP threads "
             f"wait on each other when a core is taken, and its times can come out many times too slow. "
             f"Time on an idle machine (or compare at --threads 1).")
    # OpenBLAS (OpenMP build) sizes its pool from OMP_NUM_THREADS when it loads; match --threads.
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import numpy as np
    import torch
    import torch.nn as nn

    blas = check_blas(torch)
    torch.set_num_threads(args.threads)
    if args.flush_denormal and not torch.set_flush_denormal(True):
        warn("torch.set_flush_denormal(True) is not supported on this CPU")

    train_x, train_y, data_desc = load_data(torch, np, args.mnist_dir)
    cpu = cpu_model()
    deb = torch_package()
    torch_desc = torch.__version__ + (f" (Debian python3-torch {deb})" if deb else "")
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    cmd = " ".join(shlex.quote(a) for a in [os.path.basename(sys.executable)] + sys.argv)
    blas_desc = blas["path"] + (f" ({blas['config']})" if blas["config"] else "")
    # settings that change PyTorch's allocator or libraries, recorded with the numbers
    env_desc = ", ".join(f"{k}={os.environ[k]}" for k in sorted(os.environ)
                         if k in ("GLIBC_TUNABLES", "LD_PRELOAD", "LD_LIBRARY_PATH") or k.startswith("MALLOC_"))
    header = (f"Measured {now} with `{cmd}`: PyTorch {torch_desc}, BLAS {blas_desc}, "
              f"{args.threads} thread{'s' if args.threads != 1 else ''}, "
              f"flush-denormal {'on' if args.flush_denormal else 'off'}, CPU {cpu}, {data_desc}"
              f"{', quick mode (few repetitions)' if args.quick else ''}"
              f"{f', other processes busy on {other_load:.1f} cores at start' if other_load is not None else ''}"
              f"{f', environment {env_desc}' if env_desc else ''}.")
    for ctx in contexts:
        for key in ("threads", "ember_threads", "num_threads"):
            if key in ctx and str(ctx[key]) != str(args.threads):
                warn(f"ember's JSON says {key}={ctx[key]} but PyTorch runs with --threads {args.threads}")
    ember_dates = ", ".join(str(c["date"]) for c in contexts if c.get("date"))
    if ember_dates:
        header += f" ember's JSON: {ember_dates}."
    peak = machine_peak(ember, args.threads)
    if peak:
        header += f" {peak}."

    print(f"# PyTorch {torch_desc} vs ember", flush=True)
    print(f"# BLAS loaded by torch: {blas['path']}" + (f"  [{blas['config']}]" if blas["config"] else ""))
    for p in blas["objects"]:
        if p != blas["path"]:
            print(f"#   also mapped: {p}")
    print(f"# threads {torch.get_num_threads()}, flush-denormal {'on' if args.flush_denormal else 'off'}, "
          f"CPU {cpu}, data: {data_desc}"
          + (f", other load at start {other_load:.1f} cores" if other_load is not None else ""))
    if env_desc:
        print(f"# environment: {env_desc}")
    print(f"# kernels: median of {args.reps} repetitions of ~{args.min_time:g} s; epochs: median of "
          f"{args.epoch_reps} epoch(s) after {args.warmup_steps} warm-up steps", flush=True)

    c = Ctx(torch, nn, train_x, train_y, args)
    rows = build_rows()
    if args.filter:
        rx = re.compile(args.filter)
        rows = [r for r in rows if rx.search(r["name"])]
        if not rows:
            raise SystemExit(f"error: --filter {args.filter!r} matches no row")
    known = {r["name"] for r in build_rows()}
    unknown = sorted(n for n in ember if n not in known and not n.startswith("machine/"))
    if unknown:
        warn("ember's JSON has benchmarks this script has no PyTorch twin for (not in the table): "
             + ", ".join(unknown))

    results = []
    for i, r in enumerate(rows, 1):
        t0 = time.perf_counter()
        with RowMonitor() as mon:
            if r["kind"] == "epoch":
                torch_val = time_epoch(c, r["name"])
                detail = ""
            else:
                fn = r["make"](c)
                sec, n, faults = time_kernel(fn, args.reps, args.min_time)
                torch_val = sec if r["kind"] == "kernel" else r["batch"] / sec
                detail = f"  ({n} calls x {args.reps}, {faults:,.0f} page faults/call)"
                del fn
        if r["kind"] == "epoch":
            detail = f"  ({mon.faults / args.epoch_reps:,.0f} page faults/epoch)"
        loaded = mon.other is not None and mon.other > LOAD_LIMIT
        if loaded:
            detail += f"  ! other processes used {mon.other:.1f} cores meanwhile"
        e = ember.get(r["name"])
        ember_val = None
        if e is not None:
            if r["kind"] == "throughput":
                ember_val = e["items_per_second"]
                if ember_val is None:
                    warn(f"{r['name']}: no items_per_second in ember's JSON; using {r['batch']} / real_time")
                    ember_val = r["batch"] / e["seconds"]
            else:
                ember_val = e["seconds"]
        ratio = None
        if ember_val is not None and torch_val:
            ratio = ember_val / torch_val  # time ratio, or ember/PyTorch throughput for inference
        results.append(dict(r, torch=torch_val, ember=ember_val, ratio=ratio, loaded=loaded))
        progress(f"[{i:2d}/{len(rows)}] {r['name']:<44} {fmt_value(r['kind'], torch_val):>16}{detail}"
                 f"  [{time.perf_counter() - t0:.1f} s]")

    table = make_table(results)
    print()
    print(table, flush=True)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(header + "\n\n" + table + "\n")
        progress(f"wrote {args.out}")
    if args.plot:
        os.makedirs(os.path.dirname(os.path.abspath(args.plot)), exist_ok=True)
        title = (f"ember vs PyTorch {torch.__version__} ({os.path.basename(blas['path'])} from "
                 f"{os.path.basename(os.path.dirname(blas['path']))}), {args.threads} threads, {cpu}")
        make_plot(args.plot, results, title)
        progress(f"wrote {args.plot}")
    return 0
