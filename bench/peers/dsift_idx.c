/* Dense SIFT by VLFeat's vl_dsift (libvlfeat-dev) for the classic-chain peer (bench/peers/bow_sklearn.py):
 * flat window, whole-image bounds, VLFeat's own normalisation.
 * Usage: dsift_idx IMAGES.f32 BINSIZE STEP FIRST COUNT
 *   IMAGES.f32: int32 n, h, w, then n x h x w float32 pixels in [0, 1] (row-major).
 * Writes the float32 descriptors [COUNT][frames][128] of images FIRST .. FIRST + COUNT - 1 to stdout, and
 * "count frames seconds" to stderr at the end (seconds: in vl_dsift_process). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <vl/dsift.h>

int main(int argc, char **argv) {
  if (argc < 6) { fprintf(stderr, "usage: dsift_idx IMAGES.f32 BINSIZE STEP FIRST COUNT\n"); return 2; }
  FILE *in = fopen(argv[1], "rb");
  if (!in) { perror(argv[1]); return 1; }
  int32_t head[3];
  if (fread(head, 4, 3, in) != 3) { fprintf(stderr, "%s: no header\n", argv[1]); return 1; }
  const int n = head[0], h = head[1], w = head[2];
  const int bin = atoi(argv[2]), step = atoi(argv[3]);
  const long first = atol(argv[4]);
  long count = atol(argv[5]);
  if (first < 0 || first > n) { fprintf(stderr, "first %ld outside 0..%d\n", first, n); return 1; }
  if (first + count > n) count = n - first;
  if (fseek(in, 12 + first * (long)h * w * 4, SEEK_SET) != 0) { perror(argv[1]); return 1; }
  float *im = malloc(sizeof(float) * h * w);
  VlDsiftFilter *f = vl_dsift_new_basic(w, h, step, bin);
  vl_dsift_set_flat_window(f, 1);
  const int frames = vl_dsift_get_keypoint_num(f), D = vl_dsift_get_descriptor_size(f);
  double spent = 0;
  for (long i = 0; i < count; i++) {
    if (fread(im, 4, (size_t)h * w, in) != (size_t)h * w) { fprintf(stderr, "%s: truncated\n", argv[1]); return 1; }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    vl_dsift_process(f, im);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    spent += (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
    if (fwrite(vl_dsift_get_descriptors(f), sizeof(float), (size_t)frames * D, stdout) != (size_t)frames * D) return 1;
  }
  vl_dsift_delete(f);
  fprintf(stderr, "%ld %d %.6f\n", count, frames, spent);
  return 0;
}
