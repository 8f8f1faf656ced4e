"""The classic chain with the usual tools, for `npm run bench -- bow`: VLFeat's dense SIFT (dsift_idx.c), then
scikit-learn: MiniBatchKMeans on a seeded sample of descriptors, hard assignment of every descriptor to its nearest
word, spatial-pyramid sum pooling with an L1 norm per region, the chi2 homogeneous kernel map (AdditiveChi2Sampler,
3 dimensions per bin as vl_homkermap of order 1), a linear SVM (LinearSVC: squared hinge, one-vs-rest, dual) on
sparse rows. The settings are bowcnn's bow-sift-spm recipe. Prints one JSON line with each phase's seconds and
the test accuracy.
Usage: python3 bow_sklearn.py TRAIN.f32 TEST.f32 TRAIN_LABELS.idx TEST_LABELS.idx FRAMES_Y FRAMES_X WORDS SAMPLE THREADS
"""
import json, os, sys, time

threads = sys.argv[9] if len(sys.argv) > 9 else '2'
for v in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ[v] = threads
import numpy as np
import scipy.sparse as sp
from sklearn.cluster import MiniBatchKMeans
from sklearn.kernel_approximation import AdditiveChi2Sampler
from sklearn.metrics import pairwise_distances_argmin
from sklearn.svm import LinearSVC


def labels(path):
    b = open(path, 'rb').read()
    return np.frombuffer(b, dtype=np.uint8, offset=8).astype(np.int64)


def main():
    tr_f, te_f, tr_l, te_l = sys.argv[1:5]
    fy, fx, words, sample = (int(v) for v in sys.argv[5:9])
    frames = fy * fx
    t = {}
    t0 = time.perf_counter()
    xtr = np.fromfile(tr_f, dtype=np.float32).reshape(-1, frames, 128)
    xte = np.fromfile(te_f, dtype=np.float32).reshape(-1, frames, 128)
    ytr, yte = labels(tr_l)[: len(xtr)], labels(te_l)[: len(xte)]
    rng = np.random.default_rng(0)
    flat = xtr.reshape(-1, 128)
    pick = rng.choice(len(flat), size=min(sample, len(flat)), replace=False)
    s = time.perf_counter()
    km = MiniBatchKMeans(n_clusters=words, batch_size=4096, n_init=1, random_state=0).fit(flat[pick])
    t['kmeans'] = time.perf_counter() - s
    # the pyramid [1, 2]: region of each frame (level 1: one region; level 2: 2 x 2)
    ys, xs = np.divmod(np.arange(frames), fx)
    reg2 = 1 + (ys * 2 // fy) * 2 + (xs * 2 // fx)

    def encode(x):
        s = time.perf_counter()
        w = np.concatenate([pairwise_distances_argmin(c.reshape(-1, 128), km.cluster_centers_) for c in np.array_split(x, max(1, len(x) // 500))]).reshape(len(x), frames)
        te = time.perf_counter() - s
        s = time.perf_counter()
        rows = np.repeat(np.arange(len(x)), 2 * frames)
        cols = np.stack([w, reg2[None, :] * words + w], axis=2).reshape(-1)
        h = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(x), 5 * words))
        h.sum_duplicates()
        # L1 per region: level 1 holds `frames` counts, each level-2 region its own count
        per = np.zeros(5, np.float32)
        per[0] = frames
        for r in range(1, 5):
            per[r] = (reg2 == r).sum()
        h = sp.csr_matrix(h.multiply(np.repeat(1.0 / per, words)[None, :]))
        tp = time.perf_counter() - s
        return h, te, tp

    htr, te1, tp1 = encode(xtr)
    hte, te2, tp2 = encode(xte)
    t['encode'], t['pool'] = te1 + te2, tp1 + tp2
    s = time.perf_counter()
    chi2 = AdditiveChi2Sampler(sample_steps=2)
    ftr, fte = chi2.fit_transform(htr), chi2.transform(hte)
    t['chi2'] = time.perf_counter() - s
    s = time.perf_counter()
    svm = LinearSVC(C=1.0, dual=True, max_iter=2000).fit(ftr, ytr)
    t['svm'] = time.perf_counter() - s
    acc = float((svm.predict(fte) == yte).mean())
    t['total'] = time.perf_counter() - t0
    print(json.dumps({'peer': 'VLFeat + scikit-learn', 'accuracy': round(100 * acc, 2), **{k: round(v, 1) for k, v in t.items()}}))


main()
