#!/usr/bin/env python3
"""PyTorch's side of bench/bench_latency.cpp: the seed MLP and the seed CNN in eval mode under
torch.inference_mode(), one thread, each call timed; p50 and p99 in microseconds for batch 1, 8, 64.

    /usr/bin/python3 bench/latency_pytorch.py
"""
import os
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch.models import seed_cnn, seed_mlp  # noqa: E402


def latency(model, batch, calls):
    x = torch.rand(batch, 1, 28, 28)
    times = []
    with torch.inference_mode():
        for _ in range(calls // 10):  # warm-up
            model(x)
        for _ in range(calls):
            t0 = time.perf_counter_ns()
            model(x)
            times.append((time.perf_counter_ns() - t0) / 1000.0)
    times.sort()
    return times[len(times) // 2], times[len(times) * 99 // 100]


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    models = {
        "mlp_784_128_10": seed_mlp(nn).eval(),
        "cnn_seed": seed_cnn(nn).eval(),
    }
    for name, model in models.items():
        for batch in (1, 8, 64):
            p50, p99 = latency(model, batch, 20000 if batch == 1 else 5000 if batch == 8 else 1000)
            print("torch latency/%s/batch:%d p50_us=%.1f p99_us=%.1f" % (name, batch, p50, p99))


if __name__ == "__main__":
    main()
