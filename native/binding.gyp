{
  "targets": [
    {
      "target_name": "bowcnn_native",
      "sources": ["bowcnn.cc"],
      "cflags_cc": ["-O3", "-march=native", "-fopenmp", "-ffp-contract=fast"],
      "ldflags": ["-fopenmp"]
    }
  ]
}
