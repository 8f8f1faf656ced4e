/* Dense SIFT of every image of an IDX file by VLFeat's vl_dsift (libvlfeat-dev), for the classic-chain
 * peer (bench/peers/bow_sklearn.py). Flat window, whole-image bounds, VLFeat's own normalisation.
 * Usage: dsift_idx IMAGES.idx[.gz is not read: give the raw file] BINSIZE STEP OUT.f32
 * Writes float32 descriptors [N][frames][128] to OUT and prints "N frames seconds" (the vl_dsift time). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <vl/dsift.h>

static uint32_t be32(const unsigned char *b) { return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3]; }

int main(int argc, char **argv) {
  if (argc < 5) { fprintf(stderr, "usage: dsift_idx IMAGES BINSIZE STEP OUT\n"); return 2; }
  FILE *in = fopen(argv[1], "rb");
  if (!in) { perror(argv[1]); return 1; }
  unsigned char head[16];
  if (fread(head, 1, 16, in) != 16 || head[2] != 8 || head[3] != 3) { fprintf(stderr, "%s: not an IDX file of images\n", argv[1]); return 1; }
  const int n = be32(head + 4), h = be32(head + 8), w = be32(head + 12);
  const int bin = atoi(argv[2]), step = atoi(argv[3]);
  unsigned char *px = malloc((size_t)h * w);
  float *im = malloc(sizeof(float) * h * w);
  FILE *out = fopen(argv[4], "wb");
  if (!out) { perror(argv[4]); return 1; }
  VlDsiftFilter *f = vl_dsift_new_basic(w, h, step, bin);
  vl_dsift_set_flat_window(f, 1);
  const int frames = vl_dsift_get_keypoint_num(f), D = vl_dsift_get_descriptor_size(f);
  double spent = 0;
  for (int i = 0; i < n; i++) {
    if (fread(px, 1, (size_t)h * w, in) != (size_t)h * w) { fprintf(stderr, "%s: truncated\n", argv[1]); return 1; }
    for (int p = 0; p < h * w; p++) im[p] = px[p] / 255.0f;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    vl_dsift_process(f, im);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    spent += (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
    fwrite(vl_dsift_get_descriptors(f), sizeof(float), (size_t)frames * D, out);
  }
  vl_dsift_delete(f);
  fclose(out);
  printf("%d %d %.6f\n", n, frames, spent);
  return 0;
}
