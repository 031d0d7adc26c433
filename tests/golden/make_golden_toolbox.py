#!/usr/bin/python3
"""Golden values for the toolbox layers of issue 12 (activations, softmax, poolings, losses).

Run by hand (never by CI), from anywhere, with torch 1.13:

    /usr/bin/python3 tests/golden/make_golden_toolbox.py              # every case
    /usr/bin/python3 tests/golden/make_golden_toolbox.py softmax      # only case_softmax()

Writes the *.txt files next to this script with make_golden.py's writer (same format, read by
tests/support/golden.hpp). Deterministic: each case seeds torch; single thread, float32.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import GoldenFile  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402


def run(g, prefix, layer, x, seed):
    """Writes x, y = layer(x), dy (randn from `seed`) and dx under `prefix`."""
    x = x.detach().clone().requires_grad_(True)
    y = layer(x)
    torch.manual_seed(seed)
    dy = torch.randn_like(y)
    y.backward(dy)
    g.tensor(prefix + "x", x)
    g.tensor(prefix + "y", y)
    g.tensor(prefix + "dy", dy)
    g.tensor(prefix + "dx", x.grad)


def case_softmax():
    g = GoldenFile("softmax.txt", """
written by tests/golden/make_golden_toolbox.py (case_softmax)
computed with torch 1.13 nn.Softmax(dim) and nn.LogSoftmax(dim); for each case <f>.<name>. with
f in (softmax, log_softmax): x, y = layer(x), dy = randn_like(y) after manual_seed(seed), dx
cases: rows: randn(4, 5) * 3, dim 1;  nchw: randn(2, 3, 2, 2), dim 1;  last: randn(2, 3, 2, 2),
  dim -1;  first: randn(3, 4), dim 0;  large: randn(3, 6) * 1e4, dim 1 (exp overflows naively)
""")
    torch.manual_seed(20)
    inputs = {
        "rows": (torch.randn(4, 5) * 3, 1),
        "nchw": (torch.randn(2, 3, 2, 2), 1),
        "last": (torch.randn(2, 3, 2, 2), -1),
        "first": (torch.randn(3, 4), 0),
        "large": (torch.randn(3, 6) * 1e4, 1),
    }
    seed = 21
    for f, cls in (("softmax", nn.Softmax), ("log_softmax", nn.LogSoftmax)):
        for name, (x, dim) in inputs.items():
            run(g, "%s.%s." % (f, name), cls(dim=dim), x, seed)
            seed += 1
    g.save()


def case_nll_loss():
    g = GoldenFile("nll_loss.txt", """
written by tests/golden/make_golden_toolbox.py (case_nll_loss)
computed with torch 1.13 nn.NLLLoss(...) on log_probs = log_softmax(randn(8, 5) * 2) (leaf),
labels = randint(0, 5, (8,)) after manual_seed(30), with labels[[2, 5]] set to 3 ('ignore.')
cases and options:
  plain.:    NLLLoss()
  weighted.: NLLLoss(weight=w), w = [0.5, 2.0, 1.0, 0.25, 3.0]
  ignore.:   NLLLoss(weight=w, ignore_index=3)
  sum.:      NLLLoss(weight=w, ignore_index=3, reduction='sum')
tensors: log_probs labels weight, then <case>.loss <case>.dlog_probs (and ignore.labels)
""")
    torch.manual_seed(30)
    log_probs = torch.log_softmax(torch.randn(8, 5) * 2, dim=1)
    labels = torch.randint(0, 5, (8,))
    w = torch.tensor([0.5, 2.0, 1.0, 0.25, 3.0])
    ignored = labels.clone()
    ignored[[2, 5]] = 3
    g.tensor("log_probs", log_probs)
    g.tensor("labels", labels)
    g.tensor("weight", w)
    g.tensor("ignore.labels", ignored)
    for name, crit, lab in (("plain.", nn.NLLLoss(), labels), ("weighted.", nn.NLLLoss(weight=w), labels),
                            ("ignore.", nn.NLLLoss(weight=w, ignore_index=3), ignored),
                            ("sum.", nn.NLLLoss(weight=w, ignore_index=3, reduction="sum"), ignored)):
        lp = log_probs.clone().requires_grad_(True)
        loss = crit(lp, lab)
        loss.backward()
        g.tensor(name + "loss", loss)
        g.tensor(name + "dlog_probs", lp.grad)
    g.save()


def case_cross_entropy_options():
    g = GoldenFile("cross_entropy_options.txt", """
written by tests/golden/make_golden_toolbox.py (case_cross_entropy_options)
computed with torch 1.13 nn.CrossEntropyLoss(...) on logits = randn(10, 4) * 3 after manual_seed(40),
labels = randint(0, 4, (10,)); 'ignored' labels: labels with [1, 6] set to -100 and [4] set to 2,
for the cases whose ignore_index is 2 or -100. weight w = [1.0, 2.0, 0.5, 1.5].
cases: <name>.loss, <name>.dlogits
  weight:            weight=w
  ignore_default:    ignored labels (the -100 ones ignored; label 2 a real class)
  smooth:            label_smoothing=0.2
  smooth_ignore:     ignore_index=2, label_smoothing=0.3 (unweighted mean: both terms over the rows not ignored)
  all:               weight=w, ignore_index=2, label_smoothing=0.25 (the weighted mean of both terms)
  all_sum:           the same with reduction='sum'
  smooth_one:        weight=w, label_smoothing=1.0
  large:             logits * 1000, weight=w, label_smoothing=0.1
tensors: logits labels ignored weight, then the cases
""")
    torch.manual_seed(40)
    logits = torch.randn(10, 4) * 3
    labels = torch.randint(0, 4, (10,))
    ignored = labels.clone()
    ignored[[1, 6]] = -100
    ignored[4] = 2
    w = torch.tensor([1.0, 2.0, 0.5, 1.5])
    g.tensor("logits", logits)
    g.tensor("labels", labels)
    g.tensor("ignored", ignored)
    g.tensor("weight", w)
    cases = (
        ("weight", dict(weight=w), labels, 1.0),
        ("ignore_default", dict(), ignored, 1.0),
        ("smooth", dict(label_smoothing=0.2), labels, 1.0),
        ("smooth_ignore", dict(ignore_index=2, label_smoothing=0.3), ignored.clamp(min=0), 1.0),
        ("all", dict(weight=w, ignore_index=2, label_smoothing=0.25), ignored.clamp(min=0), 1.0),
        ("all_sum", dict(weight=w, ignore_index=2, label_smoothing=0.25, reduction="sum"), ignored.clamp(min=0), 1.0),
        ("smooth_one", dict(weight=w, label_smoothing=1.0), labels, 1.0),
        ("large", dict(weight=w, label_smoothing=0.1), labels, 1000.0),
    )
    g.tensor("clamped", ignored.clamp(min=0))
    for name, kw, lab, scale in cases:
        z = (logits * scale).requires_grad_(True)
        loss = nn.CrossEntropyLoss(**kw)(z, lab)
        loss.backward()
        g.comment("%s: nn.CrossEntropyLoss(%s), logits * %g" % (
            name, ", ".join("%s=%s" % (k, v.tolist() if torch.is_tensor(v) else repr(v)) for k, v in kw.items()), scale))
        g.tensor(name + ".loss", loss)
        g.tensor(name + ".dlogits", z.grad)
    g.save()


def case_activations():
    g = GoldenFile("activations.txt", """
written by tests/golden/make_golden_toolbox.py (case_activations)
computed with torch 1.13 nn.Sigmoid(), nn.Tanh(), nn.LeakyReLU(s), nn.GELU(approximate=a) on
x = randn(3, 4, 5) * 3 after manual_seed(50), with x.flatten()[:8] set to
[-100, 100, -88, 0, -30, 30, -1e4, 1e4] (saturation, exact zero); dy = randn_like(y) after
manual_seed(seed) for each layer. prefixes: sigmoid. tanh. leaky. (0.01) leaky02. (0.2)
leaky_neg. (-0.5) gelu. (none) gelu_tanh. ; tensors <prefix>x y dy dx
""")
    torch.manual_seed(50)
    x = torch.randn(3, 4, 5) * 3
    x.view(-1)[:8] = torch.tensor([-100.0, 100.0, -88.0, 0.0, -30.0, 30.0, -1e4, 1e4])
    layers = (("sigmoid.", nn.Sigmoid()), ("tanh.", nn.Tanh()), ("leaky.", nn.LeakyReLU()),
              ("leaky02.", nn.LeakyReLU(0.2)), ("leaky_neg.", nn.LeakyReLU(-0.5)),
              ("gelu.", nn.GELU()), ("gelu_tanh.", nn.GELU(approximate="tanh")))
    for seed, (prefix, layer) in enumerate(layers, start=51):
        g.comment("%s%r" % (prefix, layer))
        run(g, prefix, layer, x, seed)
    g.save()


def main(only=()):
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    for name in only or [n[5:] for n in globals() if n.startswith("case_")]:
        globals()["case_" + name]()


if __name__ == "__main__":
    main(sys.argv[1:])
