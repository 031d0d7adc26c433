#!/usr/bin/python3
"""Loads a safetensors file written by ember into the PyTorch model of the same layers with
load_state_dict(strict=True): names, shapes and dtypes must be exactly PyTorch's. Run by hand:

    build/tests/ember_resume_bn_dropout straight /tmp/bn.safetensors
    /usr/bin/python3 tests/golden/load_in_torch.py /tmp/bn.safetensors

(Debian has no python3-safetensors: the format is read here, as write_safetensors in
make_golden.py writes it.)"""
import json
import struct
import sys

import torch
import torch.nn as nn


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    dtypes = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        t = torch.frombuffer(bytearray(data[b:end]), dtype=dtypes[e["dtype"]]) if end > b else torch.empty(0)
        out[name] = t.reshape(e["shape"])
    return out


# The model of tests/resume_bn_dropout.cpp.
model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
                      nn.Flatten(), nn.Linear(676, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.5),
                      nn.Linear(32, 10))
state = read_safetensors(sys.argv[1])
print(model.load_state_dict(state, strict=True))
print("num_batches_tracked:", int(model[1].num_batches_tracked), model[1].num_batches_tracked.dtype)
model.eval()
print("logits of zeros:", model(torch.zeros(1, 1, 28, 28))[0, :3].tolist())
