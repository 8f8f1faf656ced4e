"""LeNet-5 (modern: ReLU, max pooling; bowcnn's lenet5 recipe) trained by PyTorch on the same IDX files,
with the same recipe: inputs normalised by the training set's pixel mean and std, Adam 1e-3, batch 128,
a seeded shuffle, cross-entropy. Prints one JSON line: training images/s (all epochs), test accuracy and
inference images/s. Usage: python3 lenet5_torch.py IDX_DIR EPOCHS THREADS [TRAIN_N]
"""
import gzip, json, os, sys, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def idx(path):
    op = gzip.open if path.endswith('.gz') else open
    with op(path, 'rb') as f:
        b = f.read()
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * i: 8 + 4 * i], 'big') for i in range(nd)]
    return np.frombuffer(b, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def find(d, stem):
    for name in (stem, stem + '.gz'):
        if os.path.exists(os.path.join(d, name)):
            return os.path.join(d, name)
    raise SystemExit(f'{d}: no {stem}')


class LeNet5(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.mean, self.std = mean, std
        self.c1 = nn.Conv2d(1, 6, 5, padding=2)
        self.c3 = nn.Conv2d(6, 16, 5)
        self.c5 = nn.Linear(16 * 5 * 5, 120)
        self.f6 = nn.Linear(120, 84)
        self.out = nn.Linear(84, 10)

    def forward(self, x):
        x = (x - self.mean) / self.std
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c3(x)), 2)
        x = torch.flatten(x, 1)
        return self.out(F.relu(self.f6(F.relu(self.c5(x)))))


def main():
    d, epochs, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    n_train = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    xtr = idx(find(d, 'train-images-idx3-ubyte')).astype(np.float32) / 255
    ytr = idx(find(d, 'train-labels-idx1-ubyte')).astype(np.int64)
    xte = idx(find(d, 't10k-images-idx3-ubyte')).astype(np.float32) / 255
    yte = idx(find(d, 't10k-labels-idx1-ubyte')).astype(np.int64)
    if n_train:
        xtr, ytr = xtr[:n_train], ytr[:n_train]
    xtr, xte = torch.from_numpy(xtr[:, None]), torch.from_numpy(xte[:, None])
    ytr, yte = torch.from_numpy(ytr), torch.from_numpy(yte)
    m = LeNet5(float(xtr.mean()), float(xtr.std(unbiased=False)))
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(xtr), generator=g)
        for s in range(0, len(xtr), 128):
            i = perm[s:s + 128]
            opt.zero_grad()
            loss = F.cross_entropy(m(xtr[i]), ytr[i])
            loss.backward()
            opt.step()
    train_s = time.perf_counter() - t0
    with torch.no_grad():
        t1 = time.perf_counter()
        pred = torch.cat([m(xte[s:s + 500]).argmax(1) for s in range(0, len(xte), 500)])
        infer_s = time.perf_counter() - t1
    print(json.dumps({'peer': f'PyTorch {torch.__version__}', 'threads': threads, 'epochs': epochs, 'train': len(xtr),
                      'trainImgPerSec': round(epochs * len(xtr) / train_s), 'inferImgPerSec': round(len(xte) / infer_s),
                      'accuracy': round(100 * float((pred == yte).float().mean()), 2)}))


main()
