"""The parts of bench/compare_pytorch.py, which times PyTorch on the same work as ember's benchmarks.

    log         warn() and progress(): messages on stderr
    blas        which BLAS torch really loaded (refuses the reference BLAS)
    load        how busy the other processes keep the machine (busy_cores, RowMonitor)
    machine     the CPU model and Debian's torch package version, for the header
    idx         MNIST's training split from its IDX files (or random images)
    models      the PyTorch networks of ember's epoch benchmarks: the seed MLPs, the seed CNN, LeNet-5
    rows        ember's benchmark names and the PyTorch twin of each kernel benchmark
    timing      time_kernel() and time_epoch()
    ember_json  ember's Google Benchmark JSON
    report      the markdown table and the plot
    cli         the command line and main()

Nothing here imports torch or numpy at import time: main() sets OMP_NUM_THREADS first, and the
functions that need torch take it (or a rows.Ctx holding it) as an argument. Every module can be
imported on its own.
"""
