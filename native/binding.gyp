{
  "variables": { "march%": "native" },
  "targets": [
    {
      "target_name": "bowcnn_native",
      "sources": ["bowcnn.cc"],
      "cflags_cc": ["-O3", "-march=<(march)", "-fopenmp", "-ffp-contract=fast"],
      "ldflags": ["-fopenmp"]
    }
  ]
}
