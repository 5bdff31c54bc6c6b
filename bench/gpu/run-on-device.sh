#!/usr/bin/env bash
# GPU benchmark, prepared here and run on the GPU test machine (../shared/GPU.md).
#
#   bench/gpu/run-on-device.sh                 # engine bench only
#   WITH_FFMPEG=1 bench/gpu/run-on-device.sh   # + the pipeline bench (N 1080p cameras on NVDEC)
#
# Here (this machine, from the project root) it:
#   1. builds the service (dist/) and compiles the benches with their helpers
#      to dist/gpu-bench (the GPU machine has Node but no tsx);
#   2. copies onnx-proto (+ protobufjs) into dist/node_modules: the engine
#      wraps models with it and ../shared/tools/gpu/stage.sh stages only the
#      engine's other runtime packages;
#   3. exports the torchvision MobileNetV3-Small (float32, and float16 with
#      --fp16) with Debian's torch into the extra models folder;
#   4. writes the COCO pictures as raw RGB at each model geometry
#      (dist/gpu-bench/pictures): the GPU machine has no sharp;
#   5. WITH_FFMPEG=1: carries Debian's ffmpeg with its libraries
#      (dist/ffmpeg, a wrapper that sets LD_LIBRARY_PATH for ffmpeg alone)
#      and a 1080p H.264 clip (dist/gpu-bench/media/clip_1080p.mp4);
#   6. runs ../shared/tools/gpu/stage.sh (from a scratch root, since in a git
#      worktree .git is a file) and moves its .gpu/ into the project;
#   7. prints the device calls: one `collect` per chunk, then one `run` of
#      bench/gpu/on-device.sh, which prints each bench's table and JSON.
#
# On the GPU machine the engine bench measures, in one run: bare onnxruntime
# with JS float input, bare onnxruntime with uint8 input into the wrapped
# graph (the ceiling), the pool with each. Target: pool uint8 ≥ 0.8 × bare
# uint8 (MobileNetV3-Small; ≥ 18,000 images/s on an H200-class GPU).
set -euo pipefail
ROOT=$(pwd)
[ -f package.json ] && grep -q '"name": "stream-ml-service"' package.json || { echo "run from the project root"; exit 2; }
SHARED=$(cd "$ROOT/../shared" && pwd)
EXTRA=${GPU_EXTRA_MODELS:-/tmp/gpu-bench-models}

echo "== build"
npm run -s build
rm -rf dist/gpu-bench dist/node_modules dist/ffmpeg
npx tsc -p bench/gpu/tsconfig.json
cp bench/gpu/on-device.sh dist/gpu-bench/on-device.sh

echo "== onnx-proto for the staged engine"
node -e '
const fs=require("fs"),path=require("path"); const dst=process.argv[1]; const seen=new Set();
function add(n){ if(seen.has(n)||n.startsWith("@types/"))return; const d=path.join("node_modules",n); if(!fs.existsSync(d))return; seen.add(n);
  const pj=JSON.parse(fs.readFileSync(path.join(d,"package.json")));
  fs.cpSync(d,path.join(dst,n),{recursive:true,filter:(s)=>!/[\\/](cli|dist[\\/]light|dist[\\/]minimal)([\\/]|$)/.test(s.slice(d.length))});
  for(const k of Object.keys(pj.dependencies||{})) add(k); }
add("onnx-proto");' dist/node_modules

echo "== models: torchvision MobileNetV3-Small (random weights: speed, not accuracy)"
mkdir -p "$EXTRA"
if [ ! -f "$EXTRA/mobilenet_v3_small.onnx" ]; then
  /usr/bin/python3 models/export_torchvision.py --out-dir "$EXTRA" --only mobilenet_v3_small --fp16
fi
rm -f "$EXTRA"/*.reference.json

echo "== pictures"
node --import tsx bench/gpu/predecode.ts dist/gpu-bench/pictures

if [ "${WITH_FFMPEG:-0}" = 1 ]; then
  echo "== ffmpeg with its libraries (no glibc) and a 1080p clip"
  mkdir -p dist/ffmpeg/lib dist/gpu-bench/media dist/gpu-bench/shared/media
  cp /usr/bin/ffmpeg dist/ffmpeg/ffmpeg.bin
  ldd /usr/bin/ffmpeg | awk '/=> \//{print $3}' | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so.6|libm.so.6|libdl.so.2|librt.so.1|libpthread.so.0|ld-linux-x86-64.so.2) ;;
      *) cp -L "$lib" dist/ffmpeg/lib/ ;;
    esac
  done
  cat > dist/ffmpeg/ffmpeg <<'EOS'
#!/bin/sh
# Debian's ffmpeg with its own libraries; the driver's NVDEC/CUDA libraries from the host.
d=$(dirname "$(readlink -f "$0")")
LD_LIBRARY_PATH="$d/lib:/usr/local/nvidia/lib64:${LD_LIBRARY_PATH:-}" exec "$d/ffmpeg.bin" "$@"
EOS
  chmod +x dist/ffmpeg/ffmpeg
  # 1080p30 H.264 at ~2 Mbps, like the decode measurements in GPU.md.
  ffmpeg -nostdin -hide_banner -loglevel error -y -i "$SHARED/media/coco_slideshow_720p.mp4" -t 20 \
    -vf scale=1920:1080,fps=30 -c:v libx264 -preset veryfast -b:v 2M -maxrate 2M -bufsize 4M -g 60 -an \
    dist/gpu-bench/media/clip_1080p.mp4
  # The pipeline bench's helpers look for the slideshows under FIXTURES_SHARED_DIR/media.
  cp "$SHARED"/media/coco_slideshow_360p.mp4 "$SHARED"/media/coco_slideshow_720p.mp4 dist/gpu-bench/shared/media/
fi

echo "== stage"
SCRATCH=$(mktemp -d /tmp/gpu-stage-root.XXXXXX)
mkdir -p "$SCRATCH/.git/info"
cp -r dist models "$SCRATCH/"
ln -s "$ROOT/node_modules" "$SCRATCH/node_modules"
( cd "$SCRATCH" && GPU_EXTRA_MODELS="$EXTRA" bash "$SHARED/tools/gpu/stage.sh" ) | sed 's/^/  /'
rm -rf "$ROOT/.gpu" && mv "$SCRATCH/.gpu" "$ROOT/.gpu" && rm -rf "$SCRATCH"

last=$(ls .gpu/p? | sort | tail -1)
echo
echo "== on the GPU machine (one device call per line, back to back; .gpu/ is git-ignored, carry it explicitly):"
for p in $(ls .gpu/p? | sort); do
  [ "$p" = "$last" ] && break
  echo "  run  command: bash .gpu/device.sh collect    carry: [\"$p\", \".gpu/device.sh\"]"
done
echo "  run  command: bash .gpu/device.sh run 'bash dist/gpu-bench/on-device.sh'    carry: [\"$last\", \".gpu/device.sh\", \".gpu/payload.sha\"]   timeout_s: 420"
echo "  (the run prints each bench's table and JSON; rerun while warm with carry [\".gpu/device.sh\"])"
