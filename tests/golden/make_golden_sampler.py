"""Golden values for the data loader's shards (issue 21, item 3): the indices torch's
DistributedSampler gives each rank without shuffling, padding included.

Run with /usr/bin/python3 tests/golden/make_golden_sampler.py; writes sampler.txt in the format of
make_golden.py (read by tests/support/golden.hpp).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import GoldenFile  # noqa: E402

import torch  # noqa: E402
from torch.utils.data.distributed import DistributedSampler  # noqa: E402

CASES = [(10, 3), (7, 4), (2, 5), (8, 2), (60, 1)]  # (samples, world_size)


def main():
    g = GoldenFile("sampler.txt", """
computed with torch %s by tests/golden/make_golden_sampler.py
n<n>_w<w>_r<r>: list(DistributedSampler(range(n), num_replicas=w, rank=r, shuffle=False)), int64
""" % torch.__version__)
    for n, w in CASES:
        for r in range(w):
            idx = list(DistributedSampler(range(n), num_replicas=w, rank=r, shuffle=False))
            g.tensor("n%d_w%d_r%d" % (n, w, r), torch.tensor(idx, dtype=torch.int64))
    g.save()


if __name__ == "__main__":
    main()
