#!/usr/bin/env python3
"""Time PyTorch on the same kernels and epochs as ember's Google Benchmark programs, and compare.

    /usr/bin/python3 bench/compare_pytorch.py --ember-json build/bench.json \
        [--threads 2] [--mnist-dir DIR] [--out docs/performance_table.md] \
        [--plot docs/performance.png] [--quick] [--flush-denormal] [--filter REGEX]

ember's JSON is Google Benchmark's output (--benchmark_out=FILE --benchmark_out_format=json, or
--benchmark_format=json > FILE); several files may be given to --ember-json. The PyTorch side is timed
here, in this process, with the same names: every row does the same work as ember's benchmark of that
name (see build_rows() and the functions it names). Kernel rows are per-call times in microseconds,
epoch rows seconds per epoch, the inference row images per second. Ratios are ember time / PyTorch
time (lower is better for ember); for the inference row the table shows ember / PyTorch throughput
(higher is better for ember) and the plot shows PyTorch / ember throughput, so that in the plot lower
is always better for ember. Settings that change PyTorch's allocator (GLIBC_TUNABLES, LD_PRELOAD,
MALLOC_*) are recorded in the header.

While it runs it prints, per row, the minor page faults PyTorch took (on some VMs a fresh large output
tensor costs more in page faults than in arithmetic) and flags with "(!)" every row during which other
processes used the CPU: on a 2-core machine a busy core makes torch's OpenMP threads wait on each other
and times come out many times too slow. Time on an idle machine.

The script refuses to run on the reference (netlib) BLAS that Debian's torch falls back to: install
libopenblas0-openmp. Needs torch (Debian python3-torch 1.13 is what it was written for), numpy and,
for --plot, matplotlib.
"""

import argparse
import ctypes
import datetime
import gc
import gzip
import json
import math
import os
import re
import shlex
import statistics
import subprocess
import sys
import time

BATCHES = (64, 256, 1024)
LOAD_LIMIT = 0.3  # cores used by other processes above which a row's PyTorch time is flagged
MNIST_TRAIN = 60000


# --------------------------------------------------------------------------------------------------
# Command line

def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Time PyTorch on ember's benchmark names and print an ember vs PyTorch table.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ember-json", nargs="+", metavar="FILE",
                   help="Google Benchmark JSON output of ember's benchmarks (one or more files). "
                        "Without it the ember column is all '-'.")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--mnist-dir", default=os.environ.get("MNIST_DIR"),
                   help="folder with the MNIST IDX files (default $MNIST_DIR; only the training split "
                        "is read, as by ember's benchmarks); without it random images and labels are used")
    p.add_argument("--out", help="write the markdown table (with a header line) to this file")
    p.add_argument("--plot", help="write a PNG bar chart of the ratios to this file")
    p.add_argument("--quick", action="store_true",
                   help="few, short repetitions (for trying the script out; numbers are noisier)")
    p.add_argument("--reps", type=int, help="repetitions per kernel row (default 7, 3 with --quick)")
    p.add_argument("--min-time", type=float,
                   help="seconds per kernel repetition (default 0.2, 0.03 with --quick)")
    p.add_argument("--epoch-reps", type=int,
                   help="timed epochs per epoch row (default 3, 1 with --quick)")
    p.add_argument("--warmup-steps", type=int, default=50,
                   help="training steps run before the timed epochs of each epoch row (default 50)")
    p.add_argument("--flush-denormal", action="store_true",
                   help="torch.set_flush_denormal(True) (off by default)")
    p.add_argument("--filter", metavar="REGEX",
                   help="time only the PyTorch rows whose name matches REGEX (re.search); "
                        "the other rows are left out of the table")
    a = p.parse_args(argv)
    if a.threads < 1:
        p.error("--threads must be at least 1")
    if a.reps is None:
        a.reps = 3 if a.quick else 7
    if a.min_time is None:
        a.min_time = 0.03 if a.quick else 0.2
    if a.epoch_reps is None:
        a.epoch_reps = 1 if a.quick else 3
    if a.reps < 1 or a.epoch_reps < 1 or a.min_time <= 0:
        p.error("--reps, --epoch-reps and --min-time must be positive")
    return a


def warn(msg):
    print(f"warning: {msg}", file=sys.stderr, flush=True)


def progress(msg):
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# Which BLAS did torch really load?

class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


_BLAS_RE = re.compile(r"^lib(open)?blas|^libcblas|^libmkl|^libblis|^libatlas|^libsatlas|^libtatlas|^libflexiblas",
                      re.IGNORECASE)


def _mapped_objects():
    """Paths of the files mapped into this process, in first-mapped order."""
    seen, out = set(), []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].startswith("/"):
                path = parts[5].strip()
                if path.endswith(" (deleted)"):
                    path = path[: -len(" (deleted)")]
                if path not in seen:
                    seen.add(path)
                    out.append(path)
    return out


def _symbol_provider(handle_path, symbol):
    """The file that defines `symbol` as the dynamic linker resolves it from handle_path's scope
    (None: the global scope), or None when it cannot tell."""
    try:
        if handle_path is None:
            lib = ctypes.CDLL(None)
        else:  # already loaded by torch: RTLD_NOLOAD returns its handle and loads nothing new
            lib = ctypes.CDLL(handle_path, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
        addr = ctypes.cast(getattr(lib, symbol), ctypes.c_void_p).value
        info = _DlInfo()
        if not ctypes.CDLL(None).dladdr(ctypes.c_void_p(addr), ctypes.byref(info)) or not info.dli_fname:
            return None
        return os.path.realpath(info.dli_fname.decode())
    except (OSError, AttributeError, ValueError):
        return None


def check_blas(torch):
    """Run a matmul in torch, then find the BLAS it loaded (and the one that serves sgemm_).
    Returns a dict; exits with status 2 when it is not OpenBLAS."""
    a = torch.randn(256, 256)
    (a @ a).sum().item()
    mapped = _mapped_objects()
    blas = [os.path.realpath(p) for p in mapped if _BLAS_RE.search(os.path.basename(p))]
    blas = list(dict.fromkeys(blas))
    # torch's libtorch_cpu needs libblas.so.3 and calls sgemm_; the dynamic linker resolves that in
    # the global scope first, then in libtorch_cpu's own dependency tree. Ask it the same way.
    provider = _symbol_provider(None, "sgemm_")
    if provider is None:
        torch_cpu = next((p for p in mapped if os.path.basename(p).startswith("libtorch_cpu.so")), None)
        if torch_cpu:
            provider = _symbol_provider(torch_cpu, "sgemm_")
    if provider is None:  # could not ask the linker: the first BLAS object mapped
        provider = blas[0] if blas else None
    info = {"objects": blas, "path": provider, "config": None}
    is_openblas = provider is not None and "openblas" in provider.lower()
    if is_openblas:
        try:
            lib = ctypes.CDLL(provider, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
            lib.openblas_get_config.restype = ctypes.c_char_p
            info["config"] = lib.openblas_get_config().decode()
        except (OSError, AttributeError):
            pass
    if not is_openblas:
        print("error: torch is not using OpenBLAS, so it would be compared on the slow reference BLAS.",
              file=sys.stderr)
        print(f"  sgemm_ comes from: {provider or 'no BLAS library found in /proc/self/maps'}", file=sys.stderr)
        for p in blas:
            print(f"  mapped BLAS object: {p}", file=sys.stderr)
        print("  Install OpenBLAS for Debian's torch (it is picked up through the libblas.so.3 alternative):\n"
              "    sudo apt-get install libopenblas0-openmp\n"
              "  and check that `update-alternatives --display libblas.so.3-x86_64-linux-gnu` points at\n"
              "  /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3 (and that LD_LIBRARY_PATH does not\n"
              "  put another libblas.so.3 first).", file=sys.stderr)
        sys.exit(2)
    if "pthread" in provider.lower():
        warn("OpenBLAS is the pthreads build; with torch's OpenMP threads the two thread pools can "
             "oversubscribe the cores. libopenblas0-openmp is the one to compare with.")
    return info


def _stat_sample():
    """(busy jiffies, all jiffies) of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
    return sum(v[:8]) - idle, sum(v[:8])


def busy_cores(seconds=0.5):
    """How many cores other processes kept busy over a short sample (this script sleeps meanwhile)."""
    try:
        b0, t0 = _stat_sample()
        time.sleep(seconds)
        b1, t1 = _stat_sample()
        return (os.cpu_count() or 1) * (b1 - b0) / max(1, t1 - t0)
    except (OSError, ValueError, IndexError):
        return None


class RowMonitor:
    """While a row runs: how many cores other processes used (machine busy time minus this
    process's CPU time) and how many minor page faults this process took."""

    def __enter__(self):
        import resource
        self._resource = resource
        try:
            self.stat0 = _stat_sample()
        except (OSError, ValueError, IndexError):
            self.stat0 = None
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        self.flt0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        return self

    def __exit__(self, *exc):
        wall = max(1e-9, time.perf_counter() - self.wall0)
        self.faults = self._resource.getrusage(self._resource.RUSAGE_SELF).ru_minflt - self.flt0
        self.other = None
        if self.stat0 is not None:
            try:
                b1, t1 = _stat_sample()
                busy = (os.cpu_count() or 1) * (b1 - self.stat0[0]) / max(1, t1 - self.stat0[1])
                self.other = max(0.0, busy - (time.process_time() - self.cpu0) / wall)
            except (OSError, ValueError, IndexError):
                pass
        return False


def torch_package():
    """Debian's package version of torch (its torch.__version__ says 1.13.0a0 for 1.13.1), or None."""
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "python3-torch"], capture_output=True,
                             text=True, timeout=10)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10,
                             env=dict(os.environ, LC_ALL="C")).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


# --------------------------------------------------------------------------------------------------
# Data

def _find_idx(d, stem, kind):
    for n in (f"{stem}-{kind}-ubyte", f"{stem}.{kind}-ubyte", f"{stem}-{kind}-ubyte.gz", f"{stem}.{kind}-ubyte.gz"):
        p = os.path.join(d, n)
        if os.path.isfile(p):
            return p
    return None


def _read_idx(path, header, magic):
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
        img_path = _find_idx(mnist_dir, "train-images", "idx3")
        lab_path = _find_idx(mnist_dir, "train-labels", "idx1")
        if img_path and lab_path:
            raw = np.frombuffer(_read_idx(img_path, 16, 0x803), dtype=np.uint8)
            x = torch.from_numpy(raw.reshape(-1, 1, 28, 28).astype(np.float32) / 255.0)
            y = torch.from_numpy(np.frombuffer(_read_idx(lab_path, 8, 0x801), dtype=np.uint8).astype(np.int64))
            if x.shape[0] != y.shape[0]:
                raise SystemExit(f"error: {img_path} holds {x.shape[0]} images but {lab_path} {y.shape[0]} labels")
            return x, y, f"MNIST from {os.path.abspath(mnist_dir)}"
        warn(f"{mnist_dir} lacks train-images-idx3-ubyte and/or train-labels-idx1-ubyte")
    warn("no MNIST (give --mnist-dir or MNIST_DIR): timing on random uniform [0,1) images and random labels")
    g = torch.Generator().manual_seed(1234)
    x = torch.rand(MNIST_TRAIN, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (MNIST_TRAIN,), generator=g)
    return x, y, "random images (no MNIST found)"


# --------------------------------------------------------------------------------------------------
# Timing

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


# --------------------------------------------------------------------------------------------------
# The rows: ember's benchmark names and the PyTorch code that does the same work.
# Each maker takes the context and returns a zero-argument callable (one iteration).

class Ctx:
    def __init__(self, torch, nn, train_x, train_y, args):
        self.torch, self.nn, self.args = torch, nn, args
        self.train_x, self.train_y = train_x, train_y

    def batch(self, b):  # a real batch: the first b training images
        return self.train_x[:b].contiguous(), self.train_y[:b].contiguous()

    def conv_out(self, b):
        """conv(real images) (B,16,26,26), pre-activation, from a fixed Conv2d(1,16,3) (seed 0)."""
        torch = self.torch
        torch.manual_seed(0)
        conv = self.nn.Conv2d(1, 16, 3)
        with torch.no_grad():
            return conv(self.batch(b)[0]).contiguous()


def linear_forward(c, b):
    torch = c.torch
    torch.manual_seed(0)
    lin = c.nn.Linear(784, 128)
    x = c.batch(b)[0].reshape(b, 784).contiguous()

    def step():
        with torch.no_grad():
            lin(x)
    return step


def linear_forward_backward(c, b):
    torch = c.torch
    torch.manual_seed(0)
    lin = c.nn.Linear(784, 128)
    x = c.batch(b)[0].reshape(b, 784).contiguous()  # does not require grad: no dx, like a first layer
    dy = torch.randn(b, 128)

    def step():  # parameter grads accumulate, as ember's do
        lin(x).backward(dy)
    return step


def conv_forward(c, b):
    torch = c.torch
    torch.manual_seed(0)
    conv = c.nn.Conv2d(1, 16, 3)
    x = c.batch(b)[0]

    def step():
        with torch.no_grad():
            conv(x)
    return step


def conv_forward_backward(c, b):
    torch = c.torch
    torch.manual_seed(0)
    conv = c.nn.Conv2d(1, 16, 3)
    x = c.batch(b)[0]
    dy = torch.randn(b, 16, 26, 26)

    def step():
        conv(x).backward(dy)
    return step


def maxpool_forward(c, b):
    torch = c.torch
    pool = c.nn.MaxPool2d(2)
    a = torch.relu(c.conv_out(b))

    def step():
        with torch.no_grad():
            pool(a)
    return step


def _input_grad_step(torch, module, a, dy):
    a = a.clone().requires_grad_(True)

    def step():
        # dx is the work; drop the previous one so that backward stores dx rather than adding it to
        # the old one (ember's backward returns dx, it does not accumulate it).
        a.grad = None
        module(a).backward(dy)
    return step


def maxpool_forward_backward(c, b):
    torch = c.torch
    a = torch.relu(c.conv_out(b))
    dy = torch.randn(b, 16, 13, 13)
    return _input_grad_step(torch, c.nn.MaxPool2d(2), a, dy)


def relu_forward(c, b):
    torch = c.torch
    relu = c.nn.ReLU()
    z = c.conv_out(b)

    def step():
        with torch.no_grad():
            relu(z)
    return step


def relu_forward_backward(c, b):
    torch = c.torch
    z = c.conv_out(b)
    dy = torch.randn(b, 16, 26, 26)
    return _input_grad_step(torch, c.nn.ReLU(), z, dy)


def cross_entropy_forward_backward(c, b):
    torch = c.torch
    torch.manual_seed(0)
    logits = torch.randn(b, 10).requires_grad_(True)
    labels = c.batch(b)[1]
    crit = c.nn.CrossEntropyLoss()

    def step():
        logits.grad = None
        crit(logits, labels).backward()
    return step


def mlp(nn, sizes):
    layers = [nn.Flatten()]
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def adam_step(c):
    torch = c.torch
    torch.manual_seed(0)
    model = mlp(c.nn, [784, 128, 10])
    params = list(model.parameters())
    assert sum(p.numel() for p in params) == 101770
    for p in params:
        p.grad = torch.randn_like(p)
    opt = torch.optim.Adam(params, lr=1e-3)
    return opt.step


def inference(c, b):
    torch = c.torch
    torch.manual_seed(0)
    model = mlp(c.nn, [784, 128, 10]).eval()
    x = c.batch(b)[0]  # the first b training images, as ember's benchmark uses

    def step():
        with torch.no_grad():
            model(x)
    return step


class SeedCNN:  # the notebook's `class Net(nn.Module)`, built lazily to keep torch imports in main()
    @staticmethod
    def make(nn):
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(1, 16, 3)
                self.relu = nn.ReLU()
                self.pool = nn.MaxPool2d(2)
                self.fc = nn.Linear(16 * 13 * 13, 10)

            def forward(self, x):
                return self.fc(self.pool(self.relu(self.conv1(x))).flatten(1))
        return Net()


def lenet5(nn):
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


EPOCH_MODELS = {
    "epoch/mlp_784_128_10": (lambda nn: mlp(nn, [784, 128, 10]), "adam"),
    "epoch/mlp_784_50_10": (lambda nn: mlp(nn, [784, 50, 10]), "adam"),
    "epoch/mlp_784_512_256_10": (lambda nn: mlp(nn, [784, 512, 256, 10]), "adam"),
    "epoch/mlp_784_128_64_10_sgd": (lambda nn: mlp(nn, [784, 128, 64, 10]), "sgd"),
    "epoch/cnn_seed": (SeedCNN.make, "adam"),
    "epoch/lenet5": (lenet5, "adam"),
}


def time_epoch(c, name):
    """Median seconds of one training epoch (60,000 images, batch 64, shuffled), notebook style."""
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


# kind: "kernel" (seconds per call, shown in us), "epoch" (seconds per epoch, shown in s),
# "throughput" (images per second; `batch` images per call)
def build_rows():
    rows = []
    kernels = [
        ("linear_784_128/forward", linear_forward),
        ("linear_784_128/forward_backward", linear_forward_backward),
        ("conv_1_16_3/forward", conv_forward),
        ("conv_1_16_3/forward_backward", conv_forward_backward),
        ("maxpool_2/forward", maxpool_forward),
        ("maxpool_2/forward_backward", maxpool_forward_backward),
        ("relu/forward", relu_forward),
        ("relu/forward_backward", relu_forward_backward),
        ("cross_entropy/forward_backward", cross_entropy_forward_backward),
    ]
    for base, maker in kernels:
        for b in BATCHES:
            rows.append({"name": f"{base}/batch:{b}", "kind": "kernel", "make": (lambda c, m=maker, b=b: m(c, b))})
    rows.append({"name": "adam_step/mlp_784_128_10", "kind": "kernel", "make": adam_step})
    for name in EPOCH_MODELS:
        rows.append({"name": name, "kind": "epoch"})
    rows.append({"name": "inference/mlp_784_128_10/batch:1000", "kind": "throughput", "batch": 1000,
                 "make": (lambda c: inference(c, 1000))})
    return rows


# --------------------------------------------------------------------------------------------------
# ember's Google Benchmark JSON

_UNIT = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
_GB_SUFFIX = re.compile(r"^(min_time|min_warmup_time|iterations|repeats|threads|real_time|manual_time|"
                        r"process_time)(:.*)?$")


def normalize_name(name):
    """Drop the modifiers Google Benchmark appends to a name (/iterations:1, /real_time, ...)."""
    parts = name.split("/")
    while len(parts) > 1 and _GB_SUFFIX.match(parts[-1]):
        parts.pop()
    return "/".join(parts)


def load_ember(paths):
    """name -> {"seconds", "items_per_second", "source"}; plus the merged contexts."""
    runs, medians, contexts = {}, {}, []
    for path in paths:
        try:
            with open(path) as f:
                text = f.read()
        except OSError as e:
            raise SystemExit(f"error: cannot read ember's benchmark JSON {path}: {e}")
        try:
            doc = json.loads(text)
        except ValueError as e:
            # --benchmark_format=json > FILE also catches whatever the program printed before the JSON
            m = re.search(r'^\{\s*"context"', text, re.MULTILINE)
            try:
                doc = json.JSONDecoder().raw_decode(text[m.start():])[0] if m else None
            except ValueError:
                doc = None
            if doc is None:
                raise SystemExit(f"error: {path} is not Google Benchmark JSON: {e}")
        if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
            raise SystemExit(f"error: {path} is not Google Benchmark JSON (no 'benchmarks' list)")
        contexts.append(doc.get("context", {}))
        for b in doc["benchmarks"]:
            if b.get("error_occurred") or b.get("skipped"):
                warn(f"{path}: {b.get('name')} reported an error/skip: {b.get('error_message', '')}")
                continue
            if "real_time" not in b or "name" not in b:
                continue
            unit = b.get("time_unit", "ns")
            if unit not in _UNIT:
                warn(f"{path}: {b['name']}: unknown time_unit {unit!r}, skipped")
                continue
            rec = {"seconds": float(b["real_time"]) * _UNIT[unit],
                   "items_per_second": b.get("items_per_second"), "flops": b.get("FLOP/s")}
            if b.get("run_type") == "aggregate":
                if b.get("aggregate_name") != "median":
                    continue
                base = b.get("run_name") or re.sub(r"_median$", "", b["name"])
                medians[normalize_name(base)] = dict(rec, source="median aggregate")
            else:
                base = b.get("run_name") or b["name"]
                runs.setdefault(normalize_name(base), []).append(rec)
    out = {}
    for name, recs in runs.items():
        ips = [r["items_per_second"] for r in recs if r["items_per_second"] is not None]
        flops = [r["flops"] for r in recs if r["flops"] is not None]
        out[name] = {"seconds": statistics.median(r["seconds"] for r in recs),
                     "items_per_second": statistics.median(ips) if ips else None,
                     "flops": statistics.median(flops) if flops else None,
                     "source": "1 run" if len(recs) == 1 else f"median of {len(recs)} runs"}
    out.update(medians)  # a median aggregate wins over the individual repetitions
    return out, contexts


def machine_peak(ember, threads):
    """The float32 multiply-add peak ember_bench measured in its run (machine/fma_peak), as text."""
    one, many = ember.get("machine/fma_peak/one_thread"), ember.get("machine/fma_peak/all_threads")
    if not one or not one.get("flops"):
        return None
    text = f"Float32 multiply-add peak in ember's run (machine/fma_peak): {one['flops'] / 1e9:.0f} GFLOP/s on 1 thread"
    if many and many.get("flops"):
        text += f", {many['flops'] / 1e9:.0f} on {threads}"
    return text


# --------------------------------------------------------------------------------------------------
# Table and plot

def fmt_us(s):
    us = s * 1e6
    if us < 10:
        return f"{us:.2f} us"
    if us < 100:
        return f"{us:.1f} us"
    return f"{us:,.0f} us"


def fmt_value(kind, v):
    if v is None:
        return "-"
    if kind == "kernel":
        return fmt_us(v)
    if kind == "epoch":
        return f"{v:.2f} s"
    return f"{v:,.0f} img/s"


def fmt_ratio(v):
    return f"{v:.2f}" if v >= 0.1 else f"{v:.2g}"


def make_table(results):
    lines = ["| kernel | ember | PyTorch | ratio (ember/PyTorch time; inference: ember/PyTorch images/s) |",
             "|---|---|---|---|"]
    for r in results:
        ratio = "-" if r["ratio"] is None else fmt_ratio(r["ratio"])
        if r["kind"] == "throughput" and r["ratio"] is not None:
            ratio += " (throughput, higher is better)"
        mark = " (!)" if r.get("loaded") else ""
        lines.append(f"| `{r['name']}` | {fmt_value(r['kind'], r['ember'])} | "
                     f"{fmt_value(r['kind'], r['torch'])}{mark} | {ratio} |")
    if any(r.get("loaded") for r in results):
        lines.append("")
        lines.append(f"(!) other processes used more than {LOAD_LIMIT} of a core while PyTorch was timed on "
                     "this row: its time is not trustworthy.")
    return "\n".join(lines)


def make_plot(path, results, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in results if r["ratio"] is not None]
    labels, values = [], []
    for r in rows:
        mark = " (!)" if r.get("loaded") else ""
        if r["kind"] == "throughput":
            labels.append(f"{r['name']}  (PyTorch/ember images/s){mark}")
            values.append(1.0 / r["ratio"])
        else:
            labels.append(r["name"] + mark)
            values.append(r["ratio"])
    height = max(3.0, 0.3 * len(rows) + 1.6)
    fig, ax = plt.subplots(figsize=(11, height))
    if not rows:
        ax.text(0.5, 0.5, "no row has both an ember and a PyTorch time", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
    else:
        y = list(range(len(rows)))[::-1]  # first row at the top
        colors = ["tab:green" if v <= 1.0 else "tab:red" for v in values]
        bars = ax.barh(y, values, color=colors, height=0.7)
        for bar, r in zip(bars, rows):
            if r.get("loaded"):
                bar.set_hatch("//")
                bar.set_alpha(0.5)
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.set_yticks(y)
        ax.set_yticklabels(labels, fontsize=8)
        lo, hi = min(values + [1.0]), max(values + [1.0])
        if hi / lo > 10:
            ax.set_xscale("log")
            ax.set_xlim(lo / 1.5, hi * 2.0)
        else:
            ax.set_xlim(0, hi * 1.18)
        ax.axvline(1.0, color="black", linestyle="--", linewidth=1, label="1.0 = as fast as PyTorch")
        for yi, v in zip(y, values):
            ax.text(v, yi, " " + fmt_ratio(v), va="center", fontsize=7)
        ax.set_xlabel("ember time / PyTorch time  (lower is better for ember; "
                      "throughput rows: PyTorch / ember images/s)")
        if any(r.get("loaded") for r in rows):
            ax.plot([], [], " ", label="(!) hatched: machine was busy, PyTorch time not trustworthy")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.6 / (height - 0.9)), ncol=2, fontsize=8,
                  frameon=False)
        ax.grid(axis="x", alpha=0.3)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


# --------------------------------------------------------------------------------------------------

def main(argv):
    args = parse_args(argv)
    ember, contexts = ({}, [])
    if args.ember_json:
        ember, contexts = load_ember(args.ember_json)
    else:
        warn("no --ember-json: the ember column is empty")
    other_load = busy_cores()
    if other_load is not None and other_load > LOAD_LIMIT:
        warn(f"other processes keep {other_load:.1f} of {os.cpu_count()} cores busy: torch's OpenMP threads "
             f"wait on each other when a core is taken, and its times can come out many times too slow. "
             f"Time on an idle machine (or compare at --threads 1).")
    # OpenBLAS (OpenMP build) sizes its pool from OMP_NUM_THREADS when it loads; match --threads.
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import numpy as np
    import torch
    import torch.nn as nn

    blas = check_blas(torch)
    torch.set_num_threads(args.threads)
    if args.flush_denormal and not torch.set_flush_denormal(True):
        warn("torch.set_flush_denormal(True) is not supported on this CPU")

    train_x, train_y, data_desc = load_data(torch, np, args.mnist_dir)
    cpu = cpu_model()
    deb = torch_package()
    torch_desc = torch.__version__ + (f" (Debian python3-torch {deb})" if deb else "")
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    cmd = " ".join(shlex.quote(a) for a in [os.path.basename(sys.executable)] + sys.argv)
    blas_desc = blas["path"] + (f" ({blas['config']})" if blas["config"] else "")
    # settings that change PyTorch's allocator or libraries, recorded with the numbers
    env_desc = ", ".join(f"{k}={os.environ[k]}" for k in sorted(os.environ)
                         if k in ("GLIBC_TUNABLES", "LD_PRELOAD", "LD_LIBRARY_PATH") or k.startswith("MALLOC_"))
    header = (f"Measured {now} with `{cmd}`: PyTorch {torch_desc}, BLAS {blas_desc}, "
              f"{args.threads} thread{'s' if args.threads != 1 else ''}, "
              f"flush-denormal {'on' if args.flush_denormal else 'off'}, CPU {cpu}, {data_desc}"
              f"{', quick mode (few repetitions)' if args.quick else ''}"
              f"{f', other processes busy on {other_load:.1f} cores at start' if other_load is not None else ''}"
              f"{f', environment {env_desc}' if env_desc else ''}.")
    for ctx in contexts:
        for key in ("threads", "ember_threads", "num_threads"):
            if key in ctx and str(ctx[key]) != str(args.threads):
                warn(f"ember's JSON says {key}={ctx[key]} but PyTorch runs with --threads {args.threads}")
    ember_dates = ", ".join(str(c["date"]) for c in contexts if c.get("date"))
    if ember_dates:
        header += f" ember's JSON: {ember_dates}."
    peak = machine_peak(ember, args.threads)
    if peak:
        header += f" {peak}."

    print(f"# PyTorch {torch_desc} vs ember", flush=True)
    print(f"# BLAS loaded by torch: {blas['path']}" + (f"  [{blas['config']}]" if blas["config"] else ""))
    for p in blas["objects"]:
        if p != blas["path"]:
            print(f"#   also mapped: {p}")
    print(f"# threads {torch.get_num_threads()}, flush-denormal {'on' if args.flush_denormal else 'off'}, "
          f"CPU {cpu}, data: {data_desc}"
          + (f", other load at start {other_load:.1f} cores" if other_load is not None else ""))
    if env_desc:
        print(f"# environment: {env_desc}")
    print(f"# kernels: median of {args.reps} repetitions of ~{args.min_time:g} s; epochs: median of "
          f"{args.epoch_reps} epoch(s) after {args.warmup_steps} warm-up steps", flush=True)

    c = Ctx(torch, nn, train_x, train_y, args)
    rows = build_rows()
    if args.filter:
        rx = re.compile(args.filter)
        rows = [r for r in rows if rx.search(r["name"])]
        if not rows:
            raise SystemExit(f"error: --filter {args.filter!r} matches no row")
    known = {r["name"] for r in build_rows()}
    unknown = sorted(n for n in ember if n not in known and not n.startswith("machine/"))
    if unknown:
        warn("ember's JSON has benchmarks this script has no PyTorch twin for (not in the table): "
             + ", ".join(unknown))

    results = []
    for i, r in enumerate(rows, 1):
        t0 = time.perf_counter()
        with RowMonitor() as mon:
            if r["kind"] == "epoch":
                torch_val = time_epoch(c, r["name"])
                detail = ""
            else:
                fn = r["make"](c)
                sec, n, faults = time_kernel(fn, args.reps, args.min_time)
                torch_val = sec if r["kind"] == "kernel" else r["batch"] / sec
                detail = f"  ({n} calls x {args.reps}, {faults:,.0f} page faults/call)"
                del fn
        if r["kind"] == "epoch":
            detail = f"  ({mon.faults / args.epoch_reps:,.0f} page faults/epoch)"
        loaded = mon.other is not None and mon.other > LOAD_LIMIT
        if loaded:
            detail += f"  ! other processes used {mon.other:.1f} cores meanwhile"
        e = ember.get(r["name"])
        ember_val = None
        if e is not None:
            if r["kind"] == "throughput":
                ember_val = e["items_per_second"]
                if ember_val is None:
                    warn(f"{r['name']}: no items_per_second in ember's JSON; using {r['batch']} / real_time")
                    ember_val = r["batch"] / e["seconds"]
            else:
                ember_val = e["seconds"]
        ratio = None
        if ember_val is not None and torch_val:
            ratio = ember_val / torch_val  # time ratio, or ember/PyTorch throughput for inference
        results.append(dict(r, torch=torch_val, ember=ember_val, ratio=ratio, loaded=loaded))
        progress(f"[{i:2d}/{len(rows)}] {r['name']:<44} {fmt_value(r['kind'], torch_val):>16}{detail}"
                 f"  [{time.perf_counter() - t0:.1f} s]")

    table = make_table(results)
    print()
    print(table, flush=True)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(header + "\n\n" + table + "\n")
        progress(f"wrote {args.out}")
    if args.plot:
        os.makedirs(os.path.dirname(os.path.abspath(args.plot)), exist_ok=True)
        title = (f"ember vs PyTorch {torch.__version__} ({os.path.basename(blas['path'])} from "
                 f"{os.path.basename(os.path.dirname(blas['path']))}), {args.threads} threads, {cpu}")
        make_plot(args.plot, results, title)
        progress(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
