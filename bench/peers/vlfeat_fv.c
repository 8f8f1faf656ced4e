/* VLFeat's GMM and Fisher vectors, timed, on descriptors that bowcnn wrote (the same numbers both sides see).
 * Input file: int32 N, D, PER; float32 descriptors [N, D] row-major: the first TRAIN rows fit the GMM, the
 * rest are PER-descriptor images to encode. Usage: vlfeat_fv FILE TRAIN K ITERATIONS THREADS
 * vl_gmm: k-means initialisation (k-means++ seeds, 20 iterations, Lloyd), at most ITERATIONS EM iterations.
 * vl_fisher_encode: improved (signed square root, L2), one image at a time.
 * Output (stdout): one JSON line. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <vl/fisher.h>
#include <vl/generic.h>
#include <vl/gmm.h>
#include <vl/kmeans.h>
#include <vl/random.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: vlfeat_fv FILE TRAIN K ITERATIONS THREADS\n");
    return 2;
  }
  int train = atoi(argv[2]), K = atoi(argv[3]), iters = atoi(argv[4]), threads = atoi(argv[5]);
  FILE *f = fopen(argv[1], "rb");
  if (!f) {
    perror(argv[1]);
    return 1;
  }
  int32_t hdr[3];
  if (fread(hdr, 4, 3, f) != 3) return 1;
  int N = hdr[0], D = hdr[1], per = hdr[2];
  float *x = malloc(sizeof(float) * (size_t)N * D);
  if (fread(x, sizeof(float), (size_t)N * D, f) != (size_t)N * D) return 1;
  fclose(f);
  vl_set_num_threads(threads);

  double t0 = now();
  vl_rand_seed(vl_get_rand(), 0);
  VlGMM *g = vl_gmm_new(VL_TYPE_FLOAT, D, K);
  vl_gmm_set_max_num_iterations(g, iters);
  VlKMeans *km = vl_kmeans_new(VL_TYPE_FLOAT, VlDistanceL2);
  vl_kmeans_set_initialization(km, VlKMeansPlusPlus);
  vl_kmeans_set_max_num_iterations(km, 20);
  vl_gmm_set_kmeans_init_object(g, km);
  vl_gmm_set_initialization(g, VlGMMKMeans);
  vl_gmm_cluster(g, x, train);
  double gmmSeconds = now() - t0;
  double ll = vl_gmm_get_loglikelihood(g);

  int images = (N - train) / per;
  float *enc = malloc(sizeof(float) * 2 * (size_t)D * K);
  double checksum = 0;
  t0 = now();
  for (int i = 0; i < images; i++) {
    vl_fisher_encode(enc, VL_TYPE_FLOAT, vl_gmm_get_means(g), D, K, vl_gmm_get_covariances(g), vl_gmm_get_priors(g),
                     x + ((size_t)train + (size_t)i * per) * D, per, VL_FISHER_FLAG_IMPROVED);
    checksum += enc[0];
  }
  double fvSeconds = now() - t0;
  printf("{\"peer\": \"VLFeat %s\", \"threads\": %d, \"gmmSeconds\": %.4f, \"gmmLogLikelihood\": %.6g, \"images\": %d, "
         "\"fisherSeconds\": %.4f, \"checksum\": %.6g}\n",
         VL_VERSION_STRING, threads, gmmSeconds, ll, images, fvSeconds, checksum);
  return 0;
}
