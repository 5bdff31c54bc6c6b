# syntax=docker/dockerfile:1
#
# CPU image for ECS Fargate (linux/amd64 or linux/arm64).
#   docker build -t stream-ml-service .
#   docker build --build-arg SKIP_MODEL_FETCH=1 -t stream-ml-service .   # no network for models
#   docker run --rm -p 8000:8000 -e APP_RTSP_URL=rtsp://camera/live \
#     -e APP_API_KEYS_FILE=/run/secrets/api_keys -v "$PWD/api_keys:/run/secrets/api_keys:ro" stream-ml-service
# It listens on 0.0.0.0 (APP_HOST) and so refuses to start without API keys:
# pass them as a secret file (APP_API_KEYS_FILE, one role:key per line) or,
# on ECS, as the APP_API_KEYS secret from Secrets Manager / SSM.
#
# Debian bookworm (glibc), not Alpine: uWebSockets.js ships glibc binaries per
# Node ABI only and would silently fall back to a slow JS server on musl
# (see native-notes/uwebsockets.md). Node 20 because the binaries stop at ABI 115.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------- build ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app

# No dependency install scripts run: the image's npm (10.x, bundled with Node
# 20) does not know package.json `allowScripts`, and the scripts would
# download libtensorflow-gpu (tfjs-node-gpu) and a second ffmpeg
# (ffmpeg-static), and send install analytics (@scarf/scarf). Nothing the
# CPU service needs comes from a script: onnxruntime-node's CPU binaries,
# sharp's libvips and uWebSockets.js ship prebuilt in their packages.
# package.json `allowScripts` (npm 11) and the variable below keep the
# onnxruntime CUDA download off should scripts ever be enabled.
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund

COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY models ./models
RUN npm run build

# Bake the models into the image so a task starts without reaching the
# internet. SKIP_MODEL_FETCH=1 leaves them out (mount them and set
# APP_MODELS_DIR instead). MODELS picks manifest names; empty = the default set.
ARG SKIP_MODEL_FETCH=0
ARG MODELS=""
ENV APP_MODEL_CACHE_DIR=/app/.cache/models
RUN mkdir -p "$APP_MODEL_CACHE_DIR" \
 && if [ "$SKIP_MODEL_FETCH" != "1" ]; then npm run models:fetch -- $MODELS; fi

# Production dependencies only for the runtime stage (tsx stays: models:fetch needs it).
# Then drop what cannot run here (≈ 600 MB of the 780 MB): onnxruntime and
# uWebSockets.js binaries for other platforms and Node ABIs, and the optional
# tfjs-node-gpu / ffmpeg-static, which are inert without their install
# scripts (native-notes/tfjs-node-gpu.md, ffmpeg.md). Smaller images pull
# faster on every Fargate task start.
RUN npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && arch="$(node -p process.arch)" && abi="$(node -p process.versions.modules)" \
 && find node_modules/onnxruntime-node/bin/napi-v6 -mindepth 2 -maxdepth 2 ! -path "*/linux/$arch" -exec rm -rf {} + \
 && find node_modules/uWebSockets.js/binaries -name 'uws_*.node' ! -name "uws_linux_${arch}_${abi}.node" -delete \
 && rm -rf node_modules/@tensorflow node_modules/ffmpeg-static \
 && node -e "require('uWebSockets.js/binaries/uws_linux_${arch}_${abi}.node'); require('onnxruntime-node'); require('sharp')"

# -------------------------------------------------------------- runtime ----
FROM ${NODE_IMAGE} AS runtime

# Debian's ffmpeg (5.1): RTSP `-timeout` is the socket timeout here, which the
# ingest arguments rely on. tini reaps ffmpeg children and forwards SIGTERM.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
ENV NODE_ENV=production \
    APP_HOST=0.0.0.0 \
    APP_PORT=8000 \
    APP_MODEL_CACHE_DIR=/app/.cache/models \
    APP_CAPTURE_DIR=/app/data/inference \
    APP_DATA_DIR=/app/data \
    FFMPEG_BIN=/usr/bin/ffmpeg

# Everything the service reads at run time, owned by root (read-only to the
# app) except the two directories it writes: the model cache (sha256 store)
# and capture output.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/models ./models
COPY --from=build /app/src/api/static ./src/api/static
COPY --from=build --chown=node:node /app/.cache/models ./.cache/models
COPY config.example.yaml ./config.example.yaml
RUN mkdir -p /app/data/inference && chown -R node:node /app/data

# The `node` user (uid 1000) comes with the official image.
USER node

EXPOSE 8000
# No curl in slim images: Node's own fetch probes /health.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.APP_PORT||8000)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
# What `npm start` runs after its build step; npm itself is left out so that
# SIGTERM reaches node directly.
CMD ["node", "dist/main.js"]
