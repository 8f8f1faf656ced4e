"""The phow recipe with the usual tools, for `npm run bench -- scenes`: VLFeat's PHOW (phow_extract.c, vl_phow's
computation in grey, streamed through a pipe), then scikit-learn as VLFeat's apps/phow_caltech101.m does it:
MiniBatchKMeans (600 words) on a seeded sample of descriptors, hard assignment of every descriptor to its nearest
word (pairwise_distances_argmin), spatial histograms 2x2 and 4x4 from each frame's position (vl_binsearch over
linspace(1, side, n + 1)), each level L1-normalised and the whole L1-normalised, the chi2 homogeneous kernel map
(AdditiveChi2Sampler, 3 dimensions per bin), a linear SVM (LinearSVC, C). Descriptors are streamed in chunks of
images. Prints one JSON line with each phase's seconds, the peak memory and the test accuracy.

Usage: python3 phow_sklearn.py PHOW_BINARY TRAIN.f32 TEST.f32 TRAIN_LABELS.i32 TEST_LABELS.i32 STEP WORDS SAMPLE C THREADS
  *.f32: int32 n, h, w, then float32 pixels; *.i32: int32 labels.
"""
import json, os, resource, subprocess, sys, time

threads = sys.argv[10] if len(sys.argv) > 10 else '2'
for v in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ[v] = threads
import numpy as np
import scipy.sparse as sp
from sklearn.cluster import MiniBatchKMeans
from sklearn.kernel_approximation import AdditiveChi2Sampler
from sklearn.metrics import pairwise_distances_argmin
from sklearn.svm import LinearSVC

binary, tr_f, te_f, tr_l, te_l = sys.argv[1:6]
step, words, sample = (int(v) for v in sys.argv[6:9])
C = float(sys.argv[9])
SIZES = ['4', '6', '8', '10']
t = {'extract': 0.0, 'kmeans': 0.0, 'encode': 0.0, 'pool': 0.0, 'chi2': 0.0, 'svm': 0.0}


def header(path):
    return [int(v) for v in np.fromfile(path, dtype=np.int32, count=3)]


def phow(path, first, n):
    """Per image: frame positions [frames, 2] and descriptors [frames, 128]; and the seconds VLFeat took."""
    p = subprocess.run([binary, path, str(first), str(n), str(step), *SIZES], capture_output=True, check=True)
    got, secs = p.stderr.decode().split()
    buf = np.frombuffer(p.stdout, dtype=np.uint8)
    out, o = [], 0
    for _ in range(int(got)):
        k = int(buf[o:o + 4].view(np.int32)[0])
        o += 4
        rec = buf[o:o + k * 130 * 4].view(np.float32).reshape(k, 130)
        o += k * 130 * 4
        out.append((rec[:, :2], rec[:, 2:]))
    return out, float(secs)


def main():
    t0 = time.perf_counter()
    ytr = np.fromfile(tr_l, dtype=np.int32)
    yte = np.fromfile(te_l, dtype=np.int32)
    ntr, h, w = header(tr_f)
    nte = header(te_f)[0]
    # the dictionary: a seeded sample of descriptors from a seeded choice of training images (twice the sample)
    one, _ = phow(tr_f, 0, 1)
    frames = len(one[0][1])
    want = min(ntr, -(-2 * sample // frames))
    rng = np.random.default_rng(0)
    firsts = np.sort(rng.choice(ntr, size=want, replace=False))
    descs = []
    for i in firsts:
        got, secs = phow(tr_f, int(i), 1)
        t['extract'] += secs
        descs.append(got[0][1])
    flat = np.concatenate(descs)
    pick = rng.choice(len(flat), size=min(sample, len(flat)), replace=False)
    s = time.perf_counter()
    km = MiniBatchKMeans(n_clusters=words, batch_size=4096, n_init=1, random_state=0).fit(flat[pick])
    t['kmeans'] = time.perf_counter() - s
    del descs, flat

    def encode(path, n, chunk=200):
        rows = []
        for a in range(0, n, chunk):
            got, secs = phow(path, a, min(chunk, n - a))
            t['extract'] += secs
            for xy, d in got:
                s = time.perf_counter()
                word = pairwise_distances_argmin(d, km.cluster_centers_)
                t['encode'] += time.perf_counter() - s
                s = time.perf_counter()
                hists = []
                for level in (2, 4):
                    # vl_binsearch(linspace(1, side, level + 1), x) with 1-based positions
                    bx = np.clip(np.searchsorted(np.linspace(1, w, level + 1), xy[:, 0] + 1, side='right') - 1, 0, level - 1)
                    by = np.clip(np.searchsorted(np.linspace(1, h, level + 1), xy[:, 1] + 1, side='right') - 1, 0, level - 1)
                    hist = np.bincount((by * level + bx) * words + word, minlength=level * level * words).astype(np.float32)
                    hists.append(hist / max(1.0, hist.sum()))
                v = np.concatenate(hists)
                rows.append(sp.csr_matrix(v / v.sum()))
                t['pool'] += time.perf_counter() - s
        return sp.vstack(rows).tocsr()

    htr, hte = encode(tr_f, ntr), encode(te_f, nte)
    s = time.perf_counter()
    chi2 = AdditiveChi2Sampler(sample_steps=2)
    ftr, fte = chi2.fit_transform(htr), chi2.transform(hte)
    t['chi2'] = time.perf_counter() - s
    s = time.perf_counter()
    svm = LinearSVC(C=C, dual=True, max_iter=1000).fit(ftr, ytr[:ntr])
    t['svm'] = time.perf_counter() - s
    acc = float((svm.predict(fte) == yte[:nte]).mean())
    t['total'] = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({'peer': 'VLFeat (vl_phow) + scikit-learn', 'accuracy': round(100 * acc, 2), 'peakRssMB': round(max(peak, child)),
                      **{k: round(v, 1) for k, v in t.items()}}))


main()
