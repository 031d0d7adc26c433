#!/usr/bin/env python3
"""pytorch/examples mnist/main.py (2022, torch 1.13 era), for timing beside examples/mnist_convnet.

    /usr/bin/python3 bench/mnist_main.py --data /work/shared/mnist [--threads 2] [main.py's flags]

The training code is main.py's, unchanged: Net, train(), test(), Adadelta + StepLR, its flags and
printout. What differs: MNIST is read from the IDX files in --data (torchvision's datasets.MNIST
wants its own folder layout and a download) into tensors, then ToTensor() and Normalize as main.py's
transform computes them (x / 255, then (x - 0.1307) / 0.3081, in float32); --threads sets
torch.set_num_threads; CUDA/MPS are not used (main.py on the CPU, so no shuffling, as its
train_kwargs); and each epoch prints one more line, "Epoch N: train X s, test Y s", as
mnist_convnet does, for the side-by-side. Run it with the same --threads as mnist_convnet on an
otherwise idle machine.
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch.idx import find_idx, read_idx  # noqa: E402


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output


def train(args, model, device, train_loader, optimizer, epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader), loss.item()))
            if args.dry_run:
                break


def test(model, device, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction='sum').item()  # sum up batch loss
            pred = output.argmax(dim=1, keepdim=True)  # get the index of the max log-probability
            correct += pred.eq(target.view_as(pred)).sum().item()

    test_loss /= len(test_loader.dataset)

    print('\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)\n'.format(
        test_loss, correct, len(test_loader.dataset),
        100. * correct / len(test_loader.dataset)))


def mnist_split(d, prefix):
    """ToTensor() then Normalize((0.1307,), (0.3081,)) of one MNIST split, as a TensorDataset."""
    images = find_idx(d, prefix + "-images", "idx3")
    labels = find_idx(d, prefix + "-labels", "idx1")
    if not images or not labels:
        sys.exit("mnist_main.py: no MNIST %s files in %s" % (prefix, d))
    x = np.frombuffer(read_idx(images, 16, 0x803), dtype=np.uint8).reshape(-1, 1, 28, 28)
    y = np.frombuffer(read_idx(labels, 8, 0x801), dtype=np.uint8).astype(np.int64)
    x = torch.from_numpy(x.copy()).float().div(255)  # ToTensor()
    x = (x - torch.tensor(0.1307)) / torch.tensor(0.3081)  # Normalize((0.1307,), (0.3081,))
    return torch.utils.data.TensorDataset(x, torch.from_numpy(y))


def main():
    # Training settings
    parser = argparse.ArgumentParser(description='PyTorch MNIST Example')
    parser.add_argument('--batch-size', type=int, default=64, metavar='N',
                        help='input batch size for training (default: 64)')
    parser.add_argument('--test-batch-size', type=int, default=1000, metavar='N',
                        help='input batch size for testing (default: 1000)')
    parser.add_argument('--epochs', type=int, default=14, metavar='N',
                        help='number of epochs to train (default: 14)')
    parser.add_argument('--lr', type=float, default=1.0, metavar='LR',
                        help='learning rate (default: 1.0)')
    parser.add_argument('--gamma', type=float, default=0.7, metavar='M',
                        help='Learning rate step gamma (default: 0.7)')
    parser.add_argument('--dry-run', action='store_true', default=False,
                        help='quickly check a single pass')
    parser.add_argument('--seed', type=int, default=1, metavar='S',
                        help='random seed (default: 1)')
    parser.add_argument('--log-interval', type=int, default=10, metavar='N',
                        help='how many batches to wait before logging training status')
    parser.add_argument('--save-model', action='store_true', default=False,
                        help='For Saving the current Model')
    parser.add_argument('--data', default=os.environ.get('MNIST_DIR', 'data/mnist'),
                        help='folder with the four MNIST IDX files (default: $MNIST_DIR)')
    parser.add_argument('--threads', type=int, default=0, help='torch.set_num_threads (0: torch\'s default)')
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device("cpu")

    train_kwargs = {'batch_size': args.batch_size}
    test_kwargs = {'batch_size': args.test_batch_size}

    dataset1 = mnist_split(args.data, "train")
    dataset2 = mnist_split(args.data, "t10k")
    train_loader = torch.utils.data.DataLoader(dataset1, **train_kwargs)
    test_loader = torch.utils.data.DataLoader(dataset2, **test_kwargs)

    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)

    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        train(args, model, device, train_loader, optimizer, epoch)
        train_seconds = time.perf_counter() - start
        test(model, device, test_loader)
        scheduler.step()
        print("Epoch %d: train %.2f s, test %.2f s" % (epoch, train_seconds,
                                                       time.perf_counter() - start - train_seconds))

    if args.save_model:
        torch.save(model.state_dict(), "mnist_cnn.pt")


if __name__ == '__main__':
    main()
