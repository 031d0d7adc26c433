#!/usr/bin/env python3
"""The PyTorch twin of examples/mnist_speedrun.cpp: the same recipe (tuomaso/train_mnist_fast's),
line for line, on the same IDX files, timed the same way (the first training step to the last test
prediction, after loading).

    /usr/bin/python3 bench/speedrun.py --data /work/shared/mnist [--seed 0] [--epochs 1] [--threads 2]
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch.idx import find_idx, read_idx  # noqa: E402


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 24, 5)
        self.conv2 = nn.Conv2d(24, 32, 3)
        self.fc1 = nn.Linear(800, 256)
        self.fc2 = nn.Linear(256, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        return F.log_softmax(self.fc2(F.relu(self.fc1(torch.flatten(x, 1)))), dim=1)


def load(d, split):
    stem = "train" if split == "train" else "t10k"
    images = np.frombuffer(read_idx(find_idx(d, stem + "-images", "idx3"), 16, 0x803), dtype=np.uint8)
    labels = np.frombuffer(read_idx(find_idx(d, stem + "-labels", "idx1"), 8, 0x801), dtype=np.uint8)
    x = torch.from_numpy(images.astype(np.float32).reshape(-1, 1, 28, 28) / 255.0)
    return (x - 0.1307) / 0.3081, torch.from_numpy(labels.astype(np.int64))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=os.environ.get("MNIST_DIR", "data/mnist"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    train_x, train_y = load(a.data, "train")
    test_x, test_y = load(a.data, "test")
    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, betas=(0.7, 0.9))
    steps = a.epochs * ((len(train_x) + 255) // 256)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-2, total_steps=steps, cycle_momentum=False)
    start = time.perf_counter()
    model.train()
    for _ in range(a.epochs):
        for i in range(0, len(train_x), 256):
            loss = F.nll_loss(model(train_x[i:i + 256]), train_y[i:i + 256])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(test_x), 1000):
            correct += (model(test_x[i:i + 1000]).argmax(1) == test_y[i:i + 1000]).sum().item()
    seconds = time.perf_counter() - start
    print("seed %d: test accuracy %.2f%%, %.2f s" % (a.seed, 100.0 * correct / len(test_x), seconds))


if __name__ == "__main__":
    main()
