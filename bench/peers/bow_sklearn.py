"""The classic chain with the usual tools, for `npm run bench -- bow`: VLFeat's dense SIFT (dsift_idx.c, streamed
through a pipe), then scikit-learn: MiniBatchKMeans on a seeded sample of descriptors, hard assignment of every
descriptor to its nearest word (pairwise_distances_argmin), spatial-pyramid [1, 2] sum pooling with an L1 norm
per region, the chi2 homogeneous kernel map (AdditiveChi2Sampler, 3 dimensions per bin as vl_homkermap of
order 1), a linear SVM (LinearSVC: squared hinge, one-vs-rest, dual, the bias a constant feature) on sparse
rows. These are bowcnn's bow-sift-spm settings. Descriptors are streamed in chunks of images, never held for a
whole split. Prints one JSON line with each phase's seconds, the peak memory and the test accuracy.

Usage: python3 bow_sklearn.py DSIFT_BINARY TRAIN.f32 TEST.f32 TRAIN_LABELS.i32 TEST_LABELS.i32 BIN STEP WORDS SAMPLE C EPS THREADS
  *.f32: int32 n, h, w, then float32 pixels; *.i32: int32 labels.
"""
import json, os, resource, subprocess, sys, time

threads = sys.argv[12] if len(sys.argv) > 12 else '2'
for v in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ[v] = threads
import numpy as np
import scipy.sparse as sp
from sklearn.cluster import MiniBatchKMeans
from sklearn.kernel_approximation import AdditiveChi2Sampler
from sklearn.metrics import pairwise_distances_argmin
from sklearn.svm import LinearSVC

binary, tr_f, te_f, tr_l, te_l = sys.argv[1:6]
binsize, step, words, sample = (int(v) for v in sys.argv[6:10])
C, eps = float(sys.argv[10]), float(sys.argv[11])
t = {'extract': 0.0, 'kmeans': 0.0, 'encode': 0.0, 'pool': 0.0, 'chi2': 0.0, 'svm': 0.0}


def count(path):
    return int(np.fromfile(path, dtype=np.int32, count=3)[0])


def descriptors(path, first, n):
    """Descriptors [n, frames, 128] of images first .. first + n - 1, and the seconds vl_dsift took."""
    p = subprocess.run([binary, path, str(binsize), str(step), str(first), str(n)], capture_output=True, check=True)
    got, frames, secs = p.stderr.decode().split()
    return np.frombuffer(p.stdout, dtype=np.float32).reshape(int(got), int(frames), 128), float(secs)


def main():
    t0 = time.perf_counter()
    ytr = np.fromfile(tr_l, dtype=np.int32)
    yte = np.fromfile(te_l, dtype=np.int32)
    ntr, nte = count(tr_f), count(te_f)
    # the dictionary: a seeded sample of descriptors from the first images (enough for twice the sample)
    first, secs = descriptors(tr_f, 0, 1)
    frames = first.shape[1]
    want = min(ntr, -(-2 * sample // frames))
    x, secs = descriptors(tr_f, 0, want)
    t['extract'] += secs
    flat = x.reshape(-1, 128)
    pick = np.random.default_rng(0).choice(len(flat), size=min(sample, len(flat)), replace=False)
    s = time.perf_counter()
    km = MiniBatchKMeans(n_clusters=words, batch_size=4096, n_init=1, random_state=0).fit(flat[pick])
    t['kmeans'] = time.perf_counter() - s
    del x, flat
    # the pyramid [1, 2]: each frame's level-2 region, from its centre on the frame grid
    side = int(round(frames ** 0.5))
    fy, fx = np.divmod(np.arange(frames), side)
    reg2 = 1 + (fy * 2 // side) * 2 + (fx * 2 // side)
    per = np.array([frames] + [(reg2 == r).sum() for r in range(1, 5)], np.float32)
    scale = np.repeat(1.0 / per, words).astype(np.float32)

    def encode(path, n, chunk=1000):
        parts = []
        for a in range(0, n, chunk):
            x, secs = descriptors(path, a, min(chunk, n - a))
            t['extract'] += secs
            s = time.perf_counter()
            w = pairwise_distances_argmin(x.reshape(-1, 128), km.cluster_centers_).reshape(len(x), frames)
            t['encode'] += time.perf_counter() - s
            s = time.perf_counter()
            rows = np.repeat(np.arange(len(x)), 2 * frames)
            cols = np.stack([np.broadcast_to(0 * words + w, w.shape), reg2[None, :] * words + w], axis=2).reshape(-1)
            h = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(x), 5 * words))
            h.sum_duplicates()
            parts.append(sp.csr_matrix(h.multiply(scale[None, :])))
            t['pool'] += time.perf_counter() - s
        return sp.vstack(parts).tocsr()

    htr, hte = encode(tr_f, ntr), encode(te_f, nte)
    s = time.perf_counter()
    chi2 = AdditiveChi2Sampler(sample_steps=2)
    ftr, fte = chi2.fit_transform(htr), chi2.transform(hte)
    t['chi2'] = time.perf_counter() - s
    s = time.perf_counter()
    svm = LinearSVC(C=C, tol=eps, dual=True, max_iter=1000).fit(ftr, ytr[:ntr])
    t['svm'] = time.perf_counter() - s
    acc = float((svm.predict(fte) == yte[:nte]).mean())
    t['total'] = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({'peer': 'VLFeat + scikit-learn', 'accuracy': round(100 * acc, 2), 'peakRssMB': round(peak),
                      **{k: round(v, 1) for k, v in t.items()}}))


main()
