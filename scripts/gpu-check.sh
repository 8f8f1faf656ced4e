#!/usr/bin/env bash
# The GPU check, for a Linux machine with an NVIDIA GPU, no Node.js and no network.
#
#   scripts/gpu-check.sh build           here: builds .travel/ (about 57 MB, within the 64 MiB a device run may carry):
#                                        node.xz (this machine's Node binary), gpu-check.mjs (the project bundled by
#                                        esbuild), node_modules/webgpu (dawn.node, xz), Fashion-MNIST (train images xz,
#                                        the rest gzipped IDX), debs/ (Debian's Vulkan loader and glvnd libraries)
#   scripts/gpu-check.sh run OUT [--quick] [--software]
#                                        there (or here): unpacks into a temp folder, points Vulkan at the NVIDIA ICD,
#                                        runs the check, writes OUT/gpu-check.json and OUT/gpu-check.log.
#                                        --quick shrinks every size and accepts the software adapter (a dry run here).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
travel=${BOWCNN_TRAVEL:-$root/.travel}
cmd=${1:-}
unxz_to() {  # file.xz -> dest, with xz or, failing that, Python's lzma
  if command -v xz >/dev/null; then xz -dc "$1" > "$2"; else python3 -c "import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],'wb'))" "$1" "$2"; fi
}
case "$cmd" in
build)
  rm -rf "$travel"; mkdir -p "$travel/data" "$travel/node_modules/webgpu/dist/linux-x64" "$travel/debs"
  xz -T2 -6 -c "$(readlink -f "$(command -v node)")" > "$travel/node.xz"
  (cd "$root" && npx esbuild scripts/gpu-check.ts --bundle --platform=node --format=esm --main-fields=main,module \
    --external:webgpu --external:sharp --external:@tensorflow/tfjs-backend-wasm --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu \
    --banner:js="import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);" \
    --outfile="$travel/gpu-check.mjs" --log-level=warning)
  cp "$root/node_modules/webgpu/index.js" "$root/node_modules/webgpu/package.json" "$travel/node_modules/webgpu/"
  xz -T2 -6 -c "$root/node_modules/webgpu/dist/linux-x64/dawn.node" > "$travel/node_modules/webgpu/dist/linux-x64/dawn.node.xz"
  src=${BOWCNN_FASHION:-/usr/share/datasets/fashion-mnist}
  zcat "$src/train-images-idx3-ubyte.gz" | xz -T2 -9 -c > "$travel/data/train-images-idx3-ubyte.xz"
  cp "$src/train-labels-idx1-ubyte.gz" "$src/t10k-images-idx3-ubyte.gz" "$src/t10k-labels-idx1-ubyte.gz" "$travel/data/"
  (cd "$travel/debs" && apt-get download libvulkan1 libglvnd0 libglx0 libegl1 libgl1 libopengl0 libgles2 >/dev/null 2>&1 || echo "gpu-check: could not download the Vulkan loader / glvnd packages (run apt-get update)" >&2)
  du -sh "$travel"; du -ab "$travel" | sort -n | tail -8
  ;;
run)
  out=$(realpath -m "${2:?usage: gpu-check.sh run OUT [--quick] [--software]}"); shift 2
  mkdir -p "$out"
  work=$(mktemp -d)
  cp -r "$travel/gpu-check.mjs" "$travel/node_modules" "$travel/data" "$work/"
  unxz_to "$travel/node.xz" "$work/node"; chmod +x "$work/node"
  unxz_to "$work/node_modules/webgpu/dist/linux-x64/dawn.node.xz" "$work/node_modules/webgpu/dist/linux-x64/dawn.node"
  unxz_to "$work/data/train-images-idx3-ubyte.xz" "$work/data/train-images-idx3-ubyte"
  # the Vulkan loader and glvnd (libGLX_nvidia.so.0, the NVIDIA Vulkan ICD, needs libGLdispatch), from the
  # carried Debian packages, unpacked locally and put first on the library path
  for f in "$travel"/debs/*.deb; do [ -e "$f" ] && dpkg-deb -x "$f" "$work/sys"; done
  export LD_LIBRARY_PATH="$work/sys/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    [ -f "$icd" ] && { export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"; break; }
  done
  export EGL_PLATFORM=${EGL_PLATFORM:-surfaceless}
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$out/nvidia-smi.txt" 2>&1 || true
  # GPU_NODE_ARGS: extra node flags, e.g. "--cpu-prof --cpu-prof-dir=$out" for a CPU profile of the run
  (cd "$work" && ./node ${GPU_NODE_ARGS:-} gpu-check.mjs "$out" data "$@") 2>&1 | tee "$out/gpu-check.log"
  rm -rf "$work"
  ;;
*) echo "usage: $0 build | run OUT [--quick] [--software]" >&2; exit 2 ;;
esac
