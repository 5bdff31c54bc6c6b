#!/bin/sh
# Publishes one H.264 stream to $RTSP_TARGET over RTSP/TCP, forever.
# Source: $SAMPLE_FILE when that file exists (looped, stream-copied when it is
# already H.264), otherwise ffmpeg's synthetic testsrc2 pattern, so the stack
# works with no media files at all. Restarts ffmpeg if MediaMTX is not up yet
# or goes away.
set -u
target="${RTSP_TARGET:-rtsp://mediamtx:8554/live}"
sample="${SAMPLE_FILE:-/media/sample.mp4}"
size="${TEST_SIZE:-1280x720}"
rate="${TEST_FPS:-25}"

while :; do
  if [ -f "$sample" ]; then
    echo "publishing $sample to $target"
    ffmpeg -hide_banner -loglevel warning -re -stream_loop -1 -i "$sample" \
      -an -c:v libx264 -preset veryfast -tune zerolatency -g "$((rate * 2))" -pix_fmt yuv420p \
      -f rtsp -rtsp_transport tcp "$target"
  else
    echo "publishing testsrc2 ${size}@${rate} to $target (no $sample)"
    ffmpeg -hide_banner -loglevel warning -re -f lavfi -i "testsrc2=size=${size}:rate=${rate}" \
      -c:v libx264 -preset veryfast -tune zerolatency -g "$((rate * 2))" -pix_fmt yuv420p \
      -f rtsp -rtsp_transport tcp "$target"
  fi
  echo "ffmpeg exited ($?); retrying in 2 s"
  sleep 2
done
