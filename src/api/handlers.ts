/**
 * The JSON/REST handlers: health, predict, cameras, preview, metrics, stream
 * tokens. Each turns deps' answers and HttpErrors into responses; nothing
 * thrown here can escape into uWS. Which path and role each one serves is
 * declared in routes.ts.
 */
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { ApiDeps } from './deps.js';
import type { Gate, Principal } from './auth/gate.js';
import { readBody, type BodyOutcome } from './body.js';
import { Exchange, type HttpContext } from './http.js';
import { boundaryFromContentType, findFilePart, MultipartError } from './multipart.js';
import type { HttpRouteId } from './routes.js';
import { PROMETHEUS_CONTENT_TYPE, toPrometheus } from '../telemetry/prometheus.js';
import { quoteShort } from '../config/echo.js';

/** POST /cameras bodies are small JSON documents. */
const MAX_JSON_BYTES = 64 * 1024;

export interface HandlerLimits {
  maxUploadBytes: number;
}

/** `principal` is null only on public routes called without a valid key. */
export type Handler = (ex: Exchange, req: HttpRequest, principal: Principal | null) => void | Promise<void>;

/** Wraps a handler: one Exchange per request, every failure answered. */
export function route(ctx: HttpContext, handler: (ex: Exchange, req: HttpRequest) => void | Promise<void>): (res: HttpResponse, req: HttpRequest) => void {
  return (res, req) => {
    const ex = new Exchange(res, req, ctx);
    if (ex.framingProblem !== null) return refuseMalformed(ex, ex.framingProblem);
    try {
      const pending = handler(ex, req);
      if (pending) pending.catch((err: unknown) => ex.fail(err));
    } catch (err) {
      ex.fail(err);
    }
  };
}

type ApiRouteId = Exclude<HttpRouteId, 'streamEvents' | 'dashboard' | 'docs' | 'openapi' | 'dashboardAsset' | 'swaggerUiAsset'>;

export function apiHandlers(deps: ApiDeps, gate: Gate, limits: HandlerLimits): Record<ApiRouteId, Handler> {
  return {
    // Load balancers call /health without a key: they get liveness, not details.
    getHealth: (ex, _req, principal) => {
      const health = deps.health();
      ex.json(200, principal === null ? { status: health.status } : health);
    },
    getLiveness: (ex) => ex.json(200, deps.live()),
    // Load balancers probe without a key: they get the status code and status, not the problems.
    getReadiness: (ex, _req, principal) => {
      const ready = deps.ready();
      ex.json(ready.status === 'ready' ? 200 : 503, principal === null ? { status: ready.status } : ready);
    },
    getStreamHealth: (ex) => ex.json(200, { cameras: deps.cameras.list(), limits: deps.cameras.limits() }),
    listCameras: (ex) => ex.json(200, { cameras: deps.cameras.list(), limits: deps.cameras.limits() }),
    metrics: async (ex) => ex.send(200, await toPrometheus(deps.metrics()), [['Content-Type', PROMETHEUS_CONTENT_TYPE], ['Cache-Control', 'no-store']]),
    createStreamToken: (ex, _req, principal) => ex.json(200, gate.issueToken(principal!), [['Cache-Control', 'no-store']]),

    predict: (ex, req) => {
      const contentType = req.getHeader('content-type');
      try {
        boundaryFromContentType(contentType);
      } catch (err) {
        // Answered before the body is read: drained so that clients still sending see it.
        if (err instanceof MultipartError) return ex.rejectUpload(400, err.code, err.message);
        throw err;
      }
      withBody(ex, limits.maxUploadBytes, (body) => {
        let image: Buffer;
        try {
          image = findFilePart(body, contentType).data;
        } catch (err) {
          if (err instanceof MultipartError) return ex.error(400, err.code, err.message);
          throw err;
        }
        if (image.length === 0) return ex.error(400, 'empty_file', 'the "file" field is empty');
        return deps.predict(image).then((result) => ex.json(200, result));
      });
    },

    addCamera: (ex) => {
      withBody(ex, MAX_JSON_BYTES, (body) => {
        let input: unknown;
        try {
          input = JSON.parse(body.toString('utf8'));
        } catch {
          return ex.error(400, 'invalid_json', 'request body is not valid JSON');
        }
        return deps.cameras.add(input).then((status) => ex.json(201, status));
      });
    },

    removeCamera: async (ex, req) => {
      const id = pathParam(req, 0);
      if (id === null) return ex.error(400, 'bad_request', 'malformed camera id');
      const removed = await deps.cameras.remove(id);
      if (removed) ex.send(204, undefined);
      else ex.error(404, 'not_found', `no camera ${quoteShort(id)}`);
    },

    cameraPreview: async (ex, req) => {
      const id = pathParam(req, 0);
      if (id === null) return ex.error(400, 'bad_request', 'malformed camera id');
      const shot = await deps.previews.preview(id);
      if (shot === null) {
        ex.send(503, JSON.stringify({ error: { code: 'no_frame', message: `camera ${quoteShort(id)} has no frame yet` } }), [
          ['Content-Type', 'application/json'],
          ['Retry-After', '1'],
          ['Cache-Control', 'no-store'],
        ]);
        return;
      }
      ex.send(200, shot.jpeg, [
        ['Content-Type', 'image/jpeg'],
        ['Cache-Control', 'no-store'],
        ['X-Image-Width', String(shot.width)],
        ['X-Image-Height', String(shot.height)],
        ...(shot.frame !== undefined ? ([['X-Frame', String(shot.frame)]] as [string, string][]) : []),
      ]);
    },
  };
}

/**
 * Ambiguous framing is how one body smuggles a second request. uWS parses
 * on after a synchronous answer (even one that closes), so the 400 goes out
 * a tick later: if more request bytes are already there, uWS closes the
 * connection while this response is pending, and the smuggled request is
 * never served.
 */
function refuseMalformed(ex: Exchange, problem: string): void {
  setImmediate(() => ex.error(400, 'bad_request', `malformed request: ${problem}`, true));
}

/** A decoded path parameter, or null when its percent-encoding is malformed. */
function pathParam(req: HttpRequest, index: number): string | null {
  try {
    return decodeURIComponent(req.getParameter(index));
  } catch {
    return null;
  }
}

/**
 * Reads the body under `limit` and hands it to `use`; answers 400 for no
 * body, 413 past the limit (read by every client, see rejectUpload), 408
 * (closing) for a body that trickles in slower than the request timeout.
 * Must run synchronously in the route handler.
 */
function withBody(ex: Exchange, limit: number, use: (body: Buffer) => void | Promise<void>): void {
  if (!ex.hasBody && ex.contentLength === null) return ex.error(400, 'empty_body', 'request has no body');
  readBody(ex, limit, (outcome: BodyOutcome) => {
    if (outcome.kind === 'too_large') return ex.rejectUpload(413, 'payload_too_large', `request body exceeds ${limit} bytes`);
    if (outcome.kind === 'timeout') return ex.error(408, 'request_timeout', `request body not received within ${ex.ctx.requestTimeoutMs / 1000} s`, true);
    if (outcome.kind === 'empty') return ex.error(400, 'empty_body', 'request has no body');
    try {
      const pending = use(outcome.body);
      if (pending) pending.catch((err: unknown) => ex.fail(err));
    } catch (err) {
      ex.fail(err);
    }
  });
}
