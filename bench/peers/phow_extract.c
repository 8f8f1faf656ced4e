/* PHOW by VLFeat (libvlfeat-dev), as vl_phow (toolbox/sift/vl_phow.m) computes it in grey, for the scenes
 * bench's peer (bench/peers/phow_sklearn.py): per bin size, vl_imsmooth_f with sigma = size / 6, vl_dsift with
 * the flat window (windowSize 1.5), the step, bounds [off off +inf +inf] (off = floor(3/2 (maxSize - size))),
 * descriptors whose frame norm is under 0.005 set to 0; every scale's frames kept (vl_phow's own frames).
 * Usage: phow_extract IMAGES.f32 FIRST COUNT STEP SIZE...
 *   IMAGES.f32: int32 n, h, w, then n x h x w float32 pixels in [0, 1] (row-major).
 * Writes per image: int32 frames, then frames x (float32 x, float32 y, 128 float32) to stdout, and
 * "count seconds" to stderr at the end (seconds: in smoothing and vl_dsift_process). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <vl/dsift.h>
#include <vl/imopv.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 6) { fprintf(stderr, "usage: phow_extract IMAGES.f32 FIRST COUNT STEP SIZE...\n"); return 2; }
  FILE *in = fopen(argv[1], "rb");
  if (!in) { perror(argv[1]); return 1; }
  int32_t head[3];
  if (fread(head, 4, 3, in) != 3) return 1;
  const int n = head[0], h = head[1], w = head[2];
  long first = atol(argv[2]), count = atol(argv[3]);
  const int step = atoi(argv[4]), ns = argc - 5;
  int sizes[16], maxSize = 0;
  for (int s = 0; s < ns; s++) { sizes[s] = atoi(argv[5 + s]); if (sizes[s] > maxSize) maxSize = sizes[s]; }
  if (first + count > n) count = n - first;
  if (fseek(in, 12 + first * (long)h * w * 4, SEEK_SET) != 0) return 1;
  float *im = malloc(sizeof(float) * h * w), *sm = malloc(sizeof(float) * h * w);
  VlDsiftFilter *f[16];
  int total = 0;
  for (int s = 0; s < ns; s++) {
    f[s] = vl_dsift_new(w, h);
    VlDsiftDescriptorGeometry g = *vl_dsift_get_geometry(f[s]);
    g.binSizeX = g.binSizeY = sizes[s];
    vl_dsift_set_geometry(f[s], &g);
    vl_dsift_set_steps(f[s], step, step);
    int off = (int)floor(1.5 * (maxSize - sizes[s]));
    vl_dsift_set_bounds(f[s], off, off, w - 1, h - 1);
    vl_dsift_set_flat_window(f[s], 1);
    vl_dsift_set_window_size(f[s], 1.5);
    total += vl_dsift_get_keypoint_num(f[s]);
  }
  float *rec = malloc(sizeof(float) * 130);
  double spent = 0;
  for (long i = 0; i < count; i++) {
    if (fread(im, 4, (size_t)h * w, in) != (size_t)h * w) return 1;
    int32_t nf = total;
    fwrite(&nf, 4, 1, stdout);
    for (int s = 0; s < ns; s++) {
      double t0 = now();
      vl_imsmooth_f(sm, w, im, w, h, w, sizes[s] / 6.0, sizes[s] / 6.0);
      vl_dsift_process(f[s], sm);
      spent += now() - t0;
      int k = vl_dsift_get_keypoint_num(f[s]);
      const VlDsiftKeypoint *kp = vl_dsift_get_keypoints(f[s]);
      const float *d = vl_dsift_get_descriptors(f[s]);
      for (int j = 0; j < k; j++) {
        rec[0] = (float)kp[j].x, rec[1] = (float)kp[j].y;
        for (int t = 0; t < 128; t++) rec[2 + t] = kp[j].norm < 0.005 ? 0.0f : d[j * 128 + t];
        fwrite(rec, 4, 130, stdout);
      }
    }
  }
  fprintf(stderr, "%ld %.6f\n", count, spent);
  return 0;
}
