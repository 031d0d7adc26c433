"""Golden values for Conv2d's dilation and groups (issue 12, item 3), from torch 1.13 nn.Conv2d.

Run with /usr/bin/python3 tests/golden/make_golden_conv2d_groups.py; writes conv2d_groups.txt
in the format of make_golden.py (read by tests/support/golden.hpp).
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
    g = GoldenFile("conv2d_groups.txt", """
computed with torch nn.Conv2d with dilation and groups (NCHW, weight (out_ch, in_ch/groups, kh, kw))
by tests/golden/make_golden_conv2d_groups.py
per config: torch.manual_seed(s); conv = <constructor>; x = randn(<shape>);
  y = conv(x); dy = randn(y.shape); y.backward(dy)
tensors per prefix: x weight bias y dy dx dweight dbias (no bias/dbias when bias=False)
""")
    configs = [
        ("dilated.", 30, "nn.Conv2d(2, 3, 3, dilation=2)", lambda: nn.Conv2d(2, 3, 3, dilation=2), (2, 2, 9, 8)),
        ("dilated_hw.", 31, "nn.Conv2d(3, 2, (3, 2), padding=(2, 1), dilation=(2, 3))",
         lambda: nn.Conv2d(3, 2, (3, 2), padding=(2, 1), dilation=(2, 3)), (2, 3, 7, 9)),
        ("grouped.", 32, "nn.Conv2d(4, 6, 3, groups=2)", lambda: nn.Conv2d(4, 6, 3, groups=2), (2, 4, 6, 7)),
        ("depthwise.", 33, "nn.Conv2d(3, 3, 3, padding=1, groups=3)",
         lambda: nn.Conv2d(3, 3, 3, padding=1, groups=3), (2, 3, 6, 6)),
        ("depthwise_x2.", 34, "nn.Conv2d(2, 4, 3, padding=1, groups=2, bias=False)",
         lambda: nn.Conv2d(2, 4, 3, padding=1, groups=2, bias=False), (2, 2, 5, 6)),
        ("combined.", 35, "nn.Conv2d(6, 4, 3, stride=2, padding=2, dilation=2, groups=2)",
         lambda: nn.Conv2d(6, 4, 3, stride=2, padding=2, dilation=2, groups=2), (2, 6, 9, 10)),
        ("combined_hw.", 36, "nn.Conv2d(4, 8, (2, 3), stride=(2, 1), padding=(1, 3), dilation=(3, 2), groups=4)",
         lambda: nn.Conv2d(4, 8, (2, 3), stride=(2, 1), padding=(1, 3), dilation=(3, 2), groups=4), (1, 4, 8, 7)),
        ("wide_groups.", 37, "nn.Conv2d(32, 64, 3, groups=4)  [patch 72 per group: the GEMM path]",
         lambda: nn.Conv2d(32, 64, 3, groups=4), (2, 32, 6, 6)),
    ]
    write_conv_configs(g, configs)
    g.save()


if __name__ == "__main__":
    main()
