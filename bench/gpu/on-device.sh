#!/usr/bin/env bash
# Runs ON the GPU test machine, in the staged app/ (bench/gpu/run-on-device.sh
# copies it to dist/gpu-bench/on-device.sh). Prints each bench's table and JSON.
#   ENGINE_ARGS / PIPELINE_ARGS add or override flags.
set -uo pipefail
B=dist/gpu-bench
echo "== bench:engine --provider cuda (MobileNetV3-Small fp32, batch 64)"
timeout 200 node $B/bench/engine.bench.js --provider cuda --model mobilenet_v3_small --batch 64 --seconds 3 --rounds 3 --pictures $B/pictures ${ENGINE_ARGS:-}
echo "== bench:engine --provider cuda (YOLOX-Nano, fixed batch 1: scales with sessions)"
timeout 120 node $B/bench/engine.bench.js --provider cuda --model yolox_nano --pool-size 4 --seconds 3 --rounds 2 --pictures $B/pictures
if [ -x dist/ffmpeg/ffmpeg ]; then
  echo "== bench:pipeline-sweep --provider cuda --hwaccel cuda (1080p H.264 cameras on NVDEC)"
  FFMPEG_BIN=$PWD/dist/ffmpeg/ffmpeg FIXTURES_SHARED_DIR=$PWD/$B/shared timeout 240 \
    node $B/bench/pipeline-sweep.bench.js --provider cuda --hwaccel cuda --model mobilenet_v3_small --clip $PWD/$B/media/clip_1080p.mp4 \
    --pictures $B/pictures --cameras 8,32 --fps 30 --seconds 5 --rounds 1 --half-cameras 8 ${PIPELINE_ARGS:-}
fi
