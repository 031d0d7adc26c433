"""MNIST's training split from its IDX files (plain or .gz), or random images without them."""

import gzip
import os

from .log import warn

MNIST_TRAIN = 60000


def find_idx(d, stem, kind):
    """The path of MNIST file `stem` (e.g. "train-images") of IDX kind `kind` ("idx3") in folder d,
    under the names it is distributed with, or None."""
    for n in (f"{stem}-{kind}-ubyte", f"{stem}.{kind}-ubyte", f"{stem}-{kind}-ubyte.gz", f"{stem}.{kind}-ubyte.gz"):
        p = os.path.join(d, n)
        if os.path.isfile(p):
            return p
    return None


def read_idx(path, header, magic):
    """The bytes after the `header`-byte header of an IDX file, after checking its magic number."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    got = int.from_bytes(raw[0:4], "big")
    if got != magic:
        raise ValueError(f"{path}: IDX magic {got:#x}, expected {magic:#x}")
    return raw[header:]


def load_data(torch, np, mnist_dir):
    """(images (60000,1,28,28) float32 in [0,1], labels int64, description): MNIST's training split,
    which is all ember's benchmarks use (their batches are its first B images)."""
    if mnist_dir:
        img_path = find_idx(mnist_dir, "train-images", "idx3")
        lab_path = find_idx(mnist_dir, "train-labels", "idx1")
        if img_path and lab_path:
            raw = np.frombuffer(read_idx(img_path, 16, 0x803), dtype=np.uint8)
            x = torch.from_numpy(raw.reshape(-1, 1, 28, 28).astype(np.float32) / 255.0)
            y = torch.from_numpy(np.frombuffer(read_idx(lab_path, 8, 0x801), dtype=np.uint8).astype(np.int64))
            if x.shape[0] != y.shape[0]:
                raise SystemExit(f"error: {img_path} holds {x.shape[0]} images but {lab_path} {y.shape[0]} labels")
            return x, y, f"MNIST from {os.path.abspath(mnist_dir)}"
        warn(f"{mnist_dir} lacks train-images-idx3-ubyte and/or train-labels-idx1-ubyte")
    warn("no MNIST (give --mnist-dir or MNIST_DIR): timing on random uniform [0,1) images and random labels")
    g = torch.Generator().manual_seed(1234)
    x = torch.rand(MNIST_TRAIN, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (MNIST_TRAIN,), generator=g)
    return x, y, "random images (no MNIST found)"
