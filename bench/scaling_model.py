"""The scaling model of docs/distributed.md: predicted efficiency of data-parallel training on N
machines, from a step's measured compute time and the gradient bytes a step moves.

A step on each machine: compute t_c (forward, backward, optimizer at batch 64 a machine, measured
on one machine), then a ring allreduce of the gradients:
    t_ar(N) = 2 (N - 1) / N * bytes / bandwidth + 2 (N - 1) * latency
efficiency(N) = t_c / (t_c + t_ar(N)) with no overlap (what the table shows), and at best
t_c / max(t_c, t_ar(N)) if every byte but the last bucket's moved during the backward.

Usage: python3 bench/scaling_model.py MS_SEED_CNN MS_LENET MS_MAIN_PY  (compute a step, in ms)
"""
import sys

# float32 gradients: the models' parameter counts (nn::num_parameters).
MODELS = [("seed CNN", 27_210), ("LeNet-5", 61_706), ("main.py's Net", 1_199_882)]
NETWORKS = [("10 Gb/s", 10e9 / 8, 25e-6), ("100 Gb/s", 100e9 / 8, 10e-6)]  # bytes/s, latency per message
MACHINES = [2, 4, 8, 16, 32, 64]


def allreduce_seconds(n, nbytes, bandwidth, latency):
    return 2 * (n - 1) / n * nbytes / bandwidth + 2 * (n - 1) * latency


def main():
    if len(sys.argv) != 1 + len(MODELS):
        sys.exit(__doc__)
    compute = [float(a) / 1e3 for a in sys.argv[1:]]
    print("| model (gradient bytes, compute a step) | network | " + " | ".join("%d" % n for n in MACHINES) + " |")
    print("|---|---|" + "---|" * len(MACHINES))
    for (name, params), t_c in zip(MODELS, compute):
        nbytes = 4 * params
        for net, bandwidth, latency in NETWORKS:
            cells = []
            for n in MACHINES:
                t_ar = allreduce_seconds(n, nbytes, bandwidth, latency)
                cells.append("%.0f%%" % (100 * t_c / (t_c + t_ar)))
            print("| %s (%.2f MB, %.2f ms) | %s | %s |" % (name, nbytes / 1e6, t_c * 1e3, net, " | ".join(cells)))


if __name__ == "__main__":
    main()
