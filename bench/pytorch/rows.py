"""The rows: ember's benchmark names and the PyTorch code that does the same work.
Each kernel maker takes the context (and a batch size) and returns a zero-argument callable
(one iteration); epoch rows name a network of models.EPOCH_MODELS (timed by timing.time_epoch)."""

from .models import EPOCH_MODELS, seed_mlp

BATCHES = (64, 256, 1024)


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


def conv2_forward(c, b):
    """mnist/main.py's Conv2d(32, 64, 3) on (B, 32, 26, 26) randn, as ember's conv_32_64_3 rows."""
    torch = c.torch
    torch.manual_seed(0)
    conv = c.nn.Conv2d(32, 64, 3)
    x = torch.randn(b, 32, 26, 26)

    def step():
        with torch.no_grad():
            conv(x)
    return step


def conv2_forward_backward(c, b):
    torch = c.torch
    torch.manual_seed(0)
    conv = c.nn.Conv2d(32, 64, 3)
    x = torch.randn(b, 32, 26, 26, requires_grad=True)  # a hidden layer: dx too
    dy = torch.randn(b, 64, 24, 24)

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


def adam_step(c):
    torch = c.torch
    torch.manual_seed(0)
    model = seed_mlp(c.nn)
    params = list(model.parameters())
    assert sum(p.numel() for p in params) == 101770
    for p in params:
        p.grad = torch.randn_like(p)
    opt = torch.optim.Adam(params, lr=1e-3)
    return opt.step


def inference(c, b):
    torch = c.torch
    torch.manual_seed(0)
    model = seed_mlp(c.nn).eval()
    x = c.batch(b)[0]  # the first b training images, as ember's benchmark uses

    def step():
        with torch.no_grad():
            model(x)
    return step


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
    for base, maker in (("conv_32_64_3/forward", conv2_forward),
                        ("conv_32_64_3/forward_backward", conv2_forward_backward)):  # batch 64 only, as ember's
        rows.append({"name": f"{base}/batch:64", "kind": "kernel", "make": (lambda c, m=maker: m(c, 64))})
    rows.append({"name": "adam_step/mlp_784_128_10", "kind": "kernel", "make": adam_step})
    for name in EPOCH_MODELS:
        rows.append({"name": name, "kind": "epoch"})
    rows.append({"name": "inference/mlp_784_128_10/batch:1000", "kind": "throughput", "batch": 1000,
                 "make": (lambda c: inference(c, 1000))})
    return rows
