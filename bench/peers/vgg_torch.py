"""bowcnn's vgg-bn recipe in PyTorch, on the same IDX files: blocks of two 3x3 convolutions (no bias) with batch
norm (momentum 0.1, eps 1e-3: Keras's 0.9 / 1e-3) and ReLU, 2x2 max pooling, flatten, dropout, a fully connected
layer with ReLU, dropout, the output; He-normal initialisation; augmentation by random crops from the image
padded by `pad` pixels, horizontal flips where the dataset allows mirrors, and random erasing (Zhong et al.:
area 2-40%, aspect 0.3-3.3, uniform noise); Adam with tfjs's one-cycle schedule (30% warm-up from 4% of the
peak, cosine down to 1e-4 of it), with decoupled weight decay on the kernels where the config has weightDecay
(AdamW), label smoothing; test-time flips where mirrors are allowed, and test-time shifts ("ttaShifts": s pixels,
the mean of the logits over the image and its copies moved s pixels down, up, right and left).

Prints one JSON line: the recipe, training seconds and images/s, test accuracy after the last epoch, inference
images/s. With "timedEpochs": n in the config it stops after the first n epochs of the full schedule (a timing
run: images/s per epoch; the accuracy printed is then the partial model's and marked so).
Usage: python3 vgg_torch.py IDX_DIR CONFIG_JSON THREADS
CONFIG_JSON: {"widths":[16,32,64],"convs":2,"fc":128,"dropout":0.3,"epochs":20,"lr":0.003,"batch":128,
              "labelSmoothing":0.05,"pad":2,"flip":true,"erase":0.5,"ttaFlip":true,"seed":0}
"""
import gzip, json, math, os, sys, time
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


class Vgg(nn.Module):
    def __init__(self, widths, convs, fc, dropout, classes=10, side=28):
        super().__init__()
        layers, c = [], 1
        for w in widths:
            for _ in range(convs):
                layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w, eps=1e-3, momentum=0.1), nn.ReLU()]
                c = w
            layers.append(nn.MaxPool2d(2))
            side //= 2
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(c * side * side, fc), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(fc, classes))
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity='relu')
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.head(self.body(x))


def lr_at(lr, t):
    warm = 0.3
    if t < warm:
        return lr * (0.04 + 0.96 * t / warm)
    return lr * 0.5 * (1 + math.cos(math.pi * (t - warm) / (1 - warm))) + lr * 1e-4


def shift_views(s):
    """bowcnn's test-time shifts: the image, then s pixels down, up, right and left."""
    return [(0, 0), (s, 0), (-s, 0), (0, s), (0, -s)] if s > 0 else [(0, 0)]


def shifted(x, dy, dx):
    """[N,C,H,W] moved by (dy, dx): out[y][x] = x[y - dy][x - dx], zeros outside."""
    if dy == 0 and dx == 0:
        return x
    h, w = x.shape[2], x.shape[3]
    p = F.pad(x, (abs(dx), abs(dx), abs(dy), abs(dy)))
    return p[:, :, abs(dy) - dy:abs(dy) - dy + h, abs(dx) - dx:abs(dx) - dx + w]


def augment(x, pad, flip, erase, g):
    b, _, h, w = x.shape
    if pad:
        p = F.pad(x, (pad, pad, pad, pad))
        oy = torch.randint(0, 2 * pad + 1, (b,), generator=g)
        ox = torch.randint(0, 2 * pad + 1, (b,), generator=g)
        x = torch.stack([p[i, :, oy[i]:oy[i] + h, ox[i]:ox[i] + w] for i in range(b)])
    if flip:
        m = torch.rand(b, generator=g) < 0.5
        x[m] = x[m].flip(3)
    if erase:
        for i in range(b):
            if float(torch.rand(1, generator=g)) >= erase:
                continue
            for _ in range(10):
                area = (0.02 + float(torch.rand(1, generator=g)) * 0.38) * h * w
                r = math.exp(math.log(0.3) + float(torch.rand(1, generator=g)) * (math.log(1 / 0.3) - math.log(0.3)))
                eh, ew = round(math.sqrt(area * r)), round(math.sqrt(area / r))
                if eh < 1 or ew < 1 or eh >= h or ew >= w:
                    continue
                y0 = int(torch.randint(0, h - eh + 1, (1,), generator=g))
                x0 = int(torch.randint(0, w - ew + 1, (1,), generator=g))
                x[i, :, y0:y0 + eh, x0:x0 + ew] = torch.rand((x.shape[1], eh, ew), generator=g)
                break
    return x


def main():
    d, cfg, threads = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    torch.manual_seed(cfg.get('seed', 0))
    g = torch.Generator().manual_seed(cfg.get('seed', 0))
    xtr = torch.from_numpy(idx(find(d, 'train-images-idx3-ubyte')).astype(np.float32)[:, None] / 255)
    ytr = torch.from_numpy(idx(find(d, 'train-labels-idx1-ubyte')).astype(np.int64))
    xte = torch.from_numpy(idx(find(d, 't10k-images-idx3-ubyte')).astype(np.float32)[:, None] / 255)
    yte = torch.from_numpy(idx(find(d, 't10k-labels-idx1-ubyte')).astype(np.int64))
    m = Vgg(cfg['widths'], cfg['convs'], cfg['fc'], cfg['dropout'])
    # decoupled weight decay on the convolution and dense kernels only, as bowcnn's trainer applies it
    wd = cfg.get('weightDecay', 0)
    kernels = [p for n, p in m.named_parameters() if n.endswith('weight') and p.dim() > 1]
    others = [p for n, p in m.named_parameters() if not (n.endswith('weight') and p.dim() > 1)]
    opt = torch.optim.AdamW([{'params': kernels, 'weight_decay': wd}, {'params': others, 'weight_decay': 0}],
                            lr=cfg['lr'], eps=1e-7)
    epochs, bs = cfg['epochs'], cfg['batch']
    steps = math.ceil(len(xtr) / bs)
    run = min(epochs, cfg.get('timedEpochs') or epochs)
    t0 = time.perf_counter()
    for e in range(run):
        m.train()
        perm = torch.randperm(len(xtr), generator=g)
        for s in range(steps):
            for group in opt.param_groups:
                group['lr'] = lr_at(cfg['lr'], (e * steps + s) / (epochs * steps))
            i = perm[s * bs:(s + 1) * bs]
            x = augment(xtr[i].clone(), cfg['pad'], cfg['flip'], cfg['erase'], g)
            opt.zero_grad()
            loss = F.cross_entropy(m(x), ytr[i], label_smoothing=cfg['labelSmoothing'])
            loss.backward()
            opt.step()
    train_s = time.perf_counter() - t0
    m.eval()
    with torch.no_grad():
        t1 = time.perf_counter()
        out = []
        for s in range(0, len(xte), 500):
            x = xte[s:s + 500]
            z = 0
            views = 0
            for dy, dx in shift_views(cfg.get('ttaShifts', 0)):
                v = shifted(x, dy, dx)
                z = z + m(v)
                views += 1
                if cfg.get('ttaFlip'):
                    z = z + m(v.flip(3))
                    views += 1
            out.append((z / views).argmax(1))
        infer_s = time.perf_counter() - t1
    acc = float((torch.cat(out) == yte).float().mean())
    print(json.dumps({'peer': f'PyTorch {torch.__version__}', 'threads': threads, 'config': cfg, 'train': len(xtr),
                      'trainSeconds': round(train_s, 1), 'trainImgPerSec': round(run * len(xtr) / train_s),
                      'epochsRun': run, 'partial': run < epochs,
                      'inferImgPerSec': round(len(xte) / infer_s), 'accuracy': round(100 * acc, 2)}))


main()
