"""Golden values for Conv2d's Winograd F(2x2, 3x3) path (3x3, stride 1, channels in whole
packets: kernels/winograd.hpp), from torch 1.13 nn.Conv2d.

Run with /usr/bin/python3 tests/golden/make_golden_conv2d_winograd.py; writes
conv2d_winograd.txt in the format of make_golden.py (read by tests/support/golden.hpp). The
channel counts are multiples of 16, a packet of floats with AVX-512 (and two with AVX2), so ember
takes the Winograd path for every config on both.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import GoldenFile, write_conv_configs  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402


def main():
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    g = GoldenFile("conv2d_winograd.txt", """
computed with torch nn.Conv2d, 3x3 kernels with stride 1 (ember's Winograd path)
by tests/golden/make_golden_conv2d_winograd.py
per config: torch.manual_seed(s); conv = <constructor>; x = randn(<shape>);
  y = conv(x); dy = randn(y.shape); y.backward(dy)
tensors per prefix: x weight bias y dy dx dweight dbias (no bias/dbias when bias=False)
""")
    configs = [
        # mnist_convnet's conv2 (pytorch/examples mnist/main.py), on an odd 10 x 11 output
        ("mnist_conv2.", 40, "nn.Conv2d(32, 64, 3)", lambda: nn.Conv2d(32, 64, 3), (1, 32, 12, 13)),
        ("pad1.", 41, "nn.Conv2d(16, 32, 3, padding=1)", lambda: nn.Conv2d(16, 32, 3, padding=1), (2, 16, 7, 9)),
        # rows narrower than a packet, padding wider than the kernel needs
        ("nobias_pad2.", 42, "nn.Conv2d(16, 16, 3, padding=2, bias=False)",
         lambda: nn.Conv2d(16, 16, 3, padding=2, bias=False), (3, 16, 5, 4)),
    ]
    write_conv_configs(g, configs)
    g.save()


if __name__ == "__main__":
    main()
