"""Golden values for the data loader's augmentation (issue 12, item 8): the geometry of
torchvision 0.14's RandomAffine (F.affine on a tensor, nearest, fill 0, about the centre) and
RandomCrop(size, padding) (F.pad with zeros, then F.crop), for fixed parameters.

Run with /usr/bin/python3 tests/golden/make_golden_transforms.py; writes transforms.txt in the
format of make_golden.py (read by tests/support/golden.hpp).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import GoldenFile  # noqa: E402

import torch  # noqa: E402
import torchvision  # noqa: E402
import torchvision.transforms.functional as F  # noqa: E402
from torchvision.transforms import InterpolationMode  # noqa: E402


def to_bytes(t):
    """A [0, 1] image of byte values / 255 back to its bytes (nearest only moves values, so exact)."""
    b = (t * 255).round()
    assert torch.equal(b / 255, t) or torch.allclose(b / 255, t, atol=0, rtol=1e-7)
    return b.to(torch.uint8)


def main():
    torch.set_num_threads(1)
    g = GoldenFile("transforms.txt", """
computed with torchvision %s (torch %s) by tests/golden/make_golden_transforms.py
images: bytes u8 (C, H, W) = torch.randint(0, 256) with torch.manual_seed(40 + k); the transform
  runs on the [0, 1] image u8 / 255 (as after ToTensor()) and the result is written back as bytes
affine<k>: params = [angle, tx, ty, scale] (float32-exact);
  out = F.affine(image, angle, [tx, ty], scale, [0.0, 0.0], InterpolationMode.NEAREST, fill=[0.0] * C)
  (what RandomAffine.forward does with the parameters get_params drew)
crop<k>: params = [padding, top, left, height, width];
  out = F.crop(F.pad(image, padding, fill=0), top, left, height, width) (RandomCrop(size, padding))
""" % (torchvision.__version__, torch.__version__))
    affine_cases = [  # shape, angle, (tx, ty), scale
        ((1, 28, 28), 0.0, (0, 0), 1.0),
        ((1, 28, 28), 90.0, (0, 0), 1.0),
        ((1, 28, 28), -37.25, (3, -2), 1.0),
        ((1, 28, 28), 12.5, (-2, 1), 0.875),
        ((1, 28, 28), -7.75, (0, 3), 1.125),
        ((1, 28, 28), 173.5, (1, 1), 0.9375),
        ((3, 13, 17), 25.5, (-3, 2), 1.0625),   # odd, not square, three channels
        ((2, 10, 7), -61.0, (2, 0), 0.75),
        ((1, 9, 12), 45.0, (0, 0), 1.0),
    ]
    for k, (shape, angle, (tx, ty), scale) in enumerate(affine_cases):
        torch.manual_seed(40 + k)
        img = torch.randint(0, 256, shape, dtype=torch.uint8)
        out = F.affine(img.float() / 255, angle, [tx, ty], scale, [0.0, 0.0],
                       interpolation=InterpolationMode.NEAREST, fill=[0.0] * shape[0])
        g.comment("affine%d: %s, angle %g, translate (%d, %d), scale %g" % (k, shape, angle, tx, ty, scale))
        g.tensor("affine%d.image" % k, img)
        g.tensor("affine%d.params" % k, torch.tensor([angle, tx, ty, scale], dtype=torch.float32))
        g.tensor("affine%d.out" % k, to_bytes(out))
    crop_cases = [  # shape, padding, top, left, height, width
        ((1, 28, 28), 4, 0, 0, 28, 28),
        ((1, 28, 28), 4, 8, 8, 28, 28),
        ((1, 28, 28), 4, 3, 6, 28, 28),
        ((1, 28, 28), 2, 1, 4, 28, 28),
        ((1, 28, 28), 0, 2, 1, 24, 24),
        ((3, 13, 17), 3, 5, 2, 10, 20),
    ]
    for k, (shape, padding, top, left, h, w) in enumerate(crop_cases):
        torch.manual_seed(60 + k)
        img = torch.randint(0, 256, shape, dtype=torch.uint8)
        out = F.crop(F.pad(img.float() / 255, padding, fill=0), top, left, h, w)
        g.comment("crop%d: %s, padding %d, top %d, left %d, size (%d, %d)" % (k, shape, padding, top, left, h, w))
        g.tensor("crop%d.image" % k, img)
        g.tensor("crop%d.params" % k, torch.tensor([padding, top, left, h, w], dtype=torch.int64))
        g.tensor("crop%d.out" % k, to_bytes(out))
    g.save()


if __name__ == "__main__":
    main()
