#!/usr/bin/env python3
"""Time PyTorch on the same kernels and epochs as ember's Google Benchmark programs, and compare.

    /usr/bin/python3 bench/compare_pytorch.py --ember-json build/bench.json \
        [--threads 2] [--mnist-dir DIR] [--out docs/performance_table.md] \
        [--plot docs/performance.png] [--quick] [--flush-denormal] [--filter REGEX]

ember's JSON is Google Benchmark's output (--benchmark_out=FILE --benchmark_out_format=json, or
--benchmark_format=json > FILE); several files may be given to --ember-json. The PyTorch side is timed
here, in this process, with the same names: every row does the same work as ember's benchmark of that
name (see build_rows() in pytorch/rows.py and the functions it names). Kernel rows are per-call times
in microseconds, epoch rows seconds per epoch, the inference row images per second. Ratios are ember
time / PyTorch time (lower is better for ember); for the inference row the table shows ember /
PyTorch throughput (higher is better for ember) and the plot shows PyTorch / ember throughput, so that
in the plot lower is always better for ember. Settings that change PyTorch's allocator
(GLIBC_TUNABLES, LD_PRELOAD, MALLOC_*) are recorded in the header.

While it runs it prints, per row, the minor page faults PyTorch took (on some VMs a fresh large output
tensor costs more in page faults than in arithmetic) and flags with "(!)" every row during which other
processes used the CPU: on a 2-core machine a busy core makes torch's OpenMP threads wait on each other
and times come out many times too slow. Time on an idle machine.

The script refuses to run on the reference (netlib) BLAS that Debian's torch falls back to: install
libopenblas0-openmp. Needs torch (Debian python3-torch 1.13 is what it was written for), numpy and,
for --plot, matplotlib.

The work is done by the package beside this file, bench/pytorch/ (see its __init__.py for what each
module holds); this file is the entry point that bench/compare.sh runs.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/, where the package pytorch/ is

from pytorch.cli import main  # noqa: E402  (after the path is set)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
