"""The PyTorch networks of ember's benchmarks, each defined once: the seed MLPs, the seed CNN
(the notebook's `class Net(nn.Module)`) and LeNet-5. Each builder takes torch.nn, so that torch
is imported by main() only, after it has set OMP_NUM_THREADS."""

SEED_MLP = [784, 128, 10]  # the notebook's MLP; also the model of the adam_step and inference rows


def mlp(nn, sizes):
    """Flatten, then Linear layers of the given sizes with a ReLU between each two."""
    layers = [nn.Flatten()]
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def seed_mlp(nn):
    return mlp(nn, SEED_MLP)


def seed_cnn(nn):
    """The notebook's `class Net(nn.Module)`, defined here so that nn is needed only when it is built."""
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


# ember's epoch benchmarks: name -> (builder taking torch.nn, optimizer: "adam" or "sgd")
EPOCH_MODELS = {
    "epoch/mlp_784_128_10": (seed_mlp, "adam"),
    "epoch/mlp_784_50_10": (lambda nn: mlp(nn, [784, 50, 10]), "adam"),
    "epoch/mlp_784_512_256_10": (lambda nn: mlp(nn, [784, 512, 256, 10]), "adam"),
    "epoch/mlp_784_128_64_10_sgd": (lambda nn: mlp(nn, [784, 128, 64, 10]), "sgd"),
    "epoch/cnn_seed": (seed_cnn, "adam"),
    "epoch/lenet5": (lenet5, "adam"),
}
