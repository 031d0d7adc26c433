"""Timing PyTorch: time_kernel() for the kernel and throughput rows, time_epoch() for the epoch rows."""

import gc
import math
import statistics
import time

from .models import EPOCH_MODELS


def time_kernel(fn, reps, min_time):
    """Median over `reps` repetitions of the per-call time of fn(), each repetition a loop long
    enough to take about min_time seconds. Warm-up first; the garbage collector is off while timing.
    Returns (seconds per call, calls per repetition, minor page faults per call while timed)."""
    import resource
    for _ in range(3):
        fn()
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        n = 1
        while True:  # calibrate the loop length
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            dt = time.perf_counter() - t0
            if dt >= 0.2 * min_time or n >= 1 << 20:
                n = max(1, math.ceil(n * min_time / max(dt, 1e-9)))
                break
            n *= 8 if dt < 0.02 * min_time else 2
        samples = []
        flt0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(reps):
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            samples.append((time.perf_counter() - t0) / n)
        faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - flt0) / (n * reps)
    finally:
        if gc_was_on:
            gc.enable()
    return statistics.median(samples), n, faults


def time_epoch(c, name):
    """Median seconds of one training epoch (60,000 images, batch 64, shuffled), notebook style.
    c is a rows.Ctx; name a key of models.EPOCH_MODELS."""
    torch, nn = c.torch, c.nn
    build, opt_name = EPOCH_MODELS[name]
    torch.manual_seed(0)
    model = build(nn)
    if opt_name == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    criterion = nn.CrossEntropyLoss()
    dataset = torch.utils.data.TensorDataset(c.train_x, c.train_y)
    loader = torch.utils.data.DataLoader(dataset, batch_size=64, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))
    model.train()

    def train(max_steps=None):
        steps = 0
        for images, labels in loader:
            if max_steps is not None and steps >= max_steps:
                break
            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
            steps += 1
        return steps

    train(c.args.warmup_steps)  # warm-up, outside the timed epochs
    samples = []
    for _ in range(c.args.epoch_reps):
        t0 = time.perf_counter()
        steps = train()
        samples.append(time.perf_counter() - t0)
        assert steps == math.ceil(len(dataset) / 64), steps
    return statistics.median(samples)
