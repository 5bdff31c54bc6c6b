/**
 * The HTTP server: registers every route of routes.ts (REST handlers, SSE,
 * WebSocket, static files) behind the authentication gate on one
 * uWebSockets.js app, fans events out to stream clients, and owns listening
 * and shutdown.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpRequest, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import type { ApiKeyConfig } from '../config/schema.js';
import type { ApiDeps } from './deps.js';
import { Gate } from './auth/gate.js';
import { OriginPolicy, PREFLIGHT_HEADERS } from './cors.js';
import { isLoopback } from './exposure.js';
import type { StreamEvent } from '../contracts/events.js';
import type { ClientMetrics } from '../telemetry/snapshot.js';
import type { Logger } from '../telemetry/logger.js';
import { loadNativeUws } from './native-check.js';
import { apiHandlers, route, type Handler } from './handlers.js';
import { requestView, type Exchange, type HttpContext } from './http.js';
import { methodsForPath, ROUTES, uwsPattern, WEBSOCKET_ROUTE, type HttpRouteId, type RouteInfo } from './routes.js';
import { SseHub, sseFrame } from './sse.js';
import { StaticFiles, type StaticFile } from './static-files.js';
import { WsHub } from './ws.js';
import type { SlowClientPolicy } from './slow-client.js';
import { quoteShort } from '../config/echo.js';

export interface ServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  maxUploadBytes: number;
  /** Browser origins allowed besides the service's own; empty = same origin only. */
  corsOrigins: readonly string[];
  /** API keys and their settings; absent or no keys = no authentication. */
  auth?: AuthOptions;
  sseHeartbeatMs: number;
  /** A request body must arrive within this (default 30 s). */
  requestTimeoutMs?: number;
  /** After an early refusal, bytes and time spent reading and discarding the rest of the body (defaults 32 MiB, 10 s). */
  refusalDrainBytes?: number;
  refusalDrainMs?: number;
  /** Per SSE/WebSocket client: bytes waiting to be sent above which its events are dropped. */
  clientMaxBufferedBytes: number;
  /** Time a client may stay over clientMaxBufferedBytes before it is disconnected (default 30 s). */
  slowClientDisconnectMs?: number;
  /**
   * A stream client that has not taken what was sent to it (SSE: bytes not
   * yet drained; WebSocket: a ping unanswered) for this long is disconnected
   * (default slowClientDisconnectMs).
   */
  clientMaxLagMs?: number;
  /** Dashboard and docs files; default `<project>/src/api/static`. */
  staticDir?: string;
  /** Swagger UI files; default the installed `swagger-ui-dist` package, null to disable. */
  swaggerUiDir?: string | null;
  logger: Logger;
  /** Called when the number of SSE or WebSocket clients changes. */
  onClients?: (sse: number, ws: number) => void;
}

export interface AuthOptions {
  keys: readonly ApiKeyConfig[];
  /** "" = random per process. */
  tokenSecret?: string;
  tokenTtlS?: number;
  maxFailuresPerMinute?: number;
  /** Client IP from the last X-Forwarded-For entry. */
  trustProxy?: boolean;
  /** Clock for token expiry and the failure limit (tests). */
  now?: () => number;
}

export interface RunningServer {
  port: number;
  /** Stream client counters for the metrics snapshot. */
  clients(): ClientMetrics;
  /** Stops listening, ends SSE and WebSocket clients, closes every connection. */
  close(): Promise<void>;
}

const DEFAULT_SLOW_CLIENT_DISCONNECT_MS = 30_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const DEFAULT_REFUSAL_DRAIN_BYTES = 32 * 1024 * 1024;
const DEFAULT_REFUSAL_DRAIN_MS = 10_000;
// LIBUS_LISTEN_EXCLUSIVE_PORT: without it a second server on the same port
// would silently share it (SO_REUSEPORT) instead of failing.
const LISTEN_EXCLUSIVE_PORT = 1;

/** `<project>/src/api/static`, from both `src/api/*.ts` and `dist/api/*.js`. */
export function defaultStaticDir(): string {
  return fileURLToPath(new URL('../../src/api/static', import.meta.url));
}

function defaultSwaggerUiDir(): string | null {
  try {
    return dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  } catch {
    return null;
  }
}

export async function startServer(deps: ApiDeps, opts: ServerOptions): Promise<RunningServer> {
  const uws = loadNativeUws();
  const app = uws.App();
  const origins = new OriginPolicy(opts.corsOrigins);
  const ctx: HttpContext = {
    log: opts.logger,
    origins,
    requestTimeoutMs: opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    refusalDrainBytes: opts.refusalDrainBytes ?? DEFAULT_REFUSAL_DRAIN_BYTES,
    refusalDrainMs: opts.refusalDrainMs ?? DEFAULT_REFUSAL_DRAIN_MS,
  };
  const auth = opts.auth;
  const gate = new Gate({
    keys: auth?.keys ?? [],
    tokenSecret: auth?.tokenSecret ?? '',
    tokenTtlS: auth?.tokenTtlS ?? 300,
    maxFailuresPerMinute: auth?.maxFailuresPerMinute ?? 10,
    trustProxy: auth?.trustProxy ?? false,
    origins,
    loopbackOnly: isLoopback(opts.host),
    onFailure: (reason) => deps.onAuthFailure(reason),
    now: auth?.now,
  });
  const policy: SlowClientPolicy = {
    maxBufferedBytes: opts.clientMaxBufferedBytes,
    disconnectAfterMs: opts.slowClientDisconnectMs ?? DEFAULT_SLOW_CLIENT_DISCONNECT_MS,
  };
  const counters = { published: 0, dropped: 0 };
  const reportClients = (): void => opts.onClients?.(sse.size, ws.size);
  const maxLagMs = opts.clientMaxLagMs ?? policy.disconnectAfterMs;
  const sse = new SseHub(policy, reportClients, maxLagMs);
  const ws = new WsHub(app, {
    policy,
    maxLagMs,
    log: opts.logger,
    cameraIds: () => deps.cameras.list().map((camera) => camera.id),
    onCountChange: reportClients,
    admit: (res, req) => {
      const admission = gate.admit(WS_ROUTE, requestView(res, req));
      return admission.ok ? null : admission.refusal;
    },
  });
  const countDrops = (n: number): void => {
    if (n === 0) return;
    counters.dropped += n;
    deps.onClientDrop(n);
  };

  const handlers: Record<HttpRouteId, Handler> = {
    ...apiHandlers(deps, gate, { maxUploadBytes: opts.maxUploadBytes }),
    streamEvents: streamHandler(deps, sse, countDrops),
    ...staticHandlers(new StaticFiles(opts.staticDir ?? defaultStaticDir()), new StaticFiles(opts.swaggerUiDir === undefined ? defaultSwaggerUiDir() : opts.swaggerUiDir)),
  };
  for (const info of ROUTES) {
    if (info.id === WEBSOCKET_ROUTE) app.ws(uwsPattern(info.path), ws.behavior());
    else registerRoute(app, ctx, gate, info, handlers[info.id]);
  }
  registerFallbacks(app, ctx);

  const unsubscribe = deps.events.subscribe((event: StreamEvent) => {
    counters.published++;
    if (sse.size === 0 && ws.size === 0) return;
    // Serialised once per event, whatever the number of clients.
    const json = JSON.stringify(event);
    let drops = 0;
    if (ws.size > 0) drops += ws.broadcast(event.camera_id, json);
    if (sse.size > 0) drops += sse.broadcast(event.camera_id, sseFrame(event.id, json));
    countDrops(drops);
  });
  const heartbeat = setInterval(() => sse.heartbeat(), Math.max(10, opts.sseHeartbeatMs));
  const sweeper = setInterval(() => {
    const now = Date.now();
    sse.sweep(now);
    ws.sweep(now);
  }, Math.max(10, Math.min(1000, Math.floor(Math.min(policy.disconnectAfterMs, maxLagMs) / 4))));
  heartbeat.unref();
  sweeper.unref();

  let listenSocket: us_listen_socket;
  try {
    listenSocket = await listen(app, opts.host, opts.port, LISTEN_EXCLUSIVE_PORT);
  } catch (err) {
    unsubscribe();
    clearInterval(heartbeat);
    clearInterval(sweeper);
    closeApp(app);
    throw err;
  }
  const port = uws.us_socket_local_port(listenSocket);

  let closing: Promise<void> | undefined;
  return {
    port,
    clients: () => ({ sse_clients: sse.size, ws_clients: ws.size, events_published: counters.published, events_dropped_slow_client: counters.dropped }),
    close: () =>
      (closing ??= (async () => {
        unsubscribe();
        clearInterval(heartbeat);
        clearInterval(sweeper);
        uws.us_listen_socket_close(listenSocket);
        sse.closeAll();
        ws.closeAll();
        // Let the final writes leave before every remaining socket is closed.
        await new Promise((resolve) => setImmediate(resolve));
        closeApp(app);
      })()),
  };
}

function listen(app: TemplatedApp, host: string, port: number, exclusive: number): Promise<us_listen_socket> {
  return new Promise((resolve, reject) => {
    // The native listen also takes (host, port, options, cb); the typings lack that overload.
    const listenWithOptions = app.listen as unknown as (host: string, port: number, options: number, cb: (socket: us_listen_socket | false) => void) => void;
    listenWithOptions.call(app, host, port, exclusive, (socket) => {
      if (socket) resolve(socket);
      else reject(new Error(`cannot listen on ${host}:${port} (in use or not permitted)`));
    });
  });
}

/** App.close() (closes every socket) exists in the native build but not in the typings. */
function closeApp(app: TemplatedApp): void {
  const closable = app as TemplatedApp & { close?: () => void };
  closable.close?.();
}

const WS_ROUTE: RouteInfo = ROUTES.find((info) => info.id === WEBSOCKET_ROUTE) as RouteInfo;

/** One route behind the gate: refused requests never reach the handler. */
function registerRoute(app: TemplatedApp, ctx: HttpContext, gate: Gate, info: RouteInfo, handler: Handler): void {
  const pattern = uwsPattern(info.path);
  const wrapped = route(ctx, (ex, req) => {
    const admission = gate.admit(info, requestView(ex.res, req));
    if (admission.ok) return handler(ex, req, admission.principal);
    const { status, code, message, headers } = admission.refusal;
    // A refused upload is answered at once and its body drained, so clients still sending read the 401/403.
    ex.rejectUpload(status, code, message, headers);
  });
  if (info.method === 'GET') app.get(pattern, wrapped);
  else if (info.method === 'POST') app.post(pattern, wrapped);
  else if (info.method === 'DELETE') app.del(pattern, wrapped);
  else app.options(pattern, wrapped);
}

function streamHandler(deps: ApiDeps, sse: SseHub, countDrops: (n: number) => void): Handler {
  return (ex: Exchange, req: HttpRequest) => {
    const filter = req.getQuery('camera') ?? '';
    const ids = filter.split(',').filter((id) => id !== '');
    const cameras = ids.length > 0 ? new Set(ids) : null;
    const lastId = parseEventId(req.getHeader('last-event-id')) ?? parseEventId(req.getQuery('last_event_id') ?? '');
    const backlog = lastId === null ? [] : deps.events.since(lastId);
    if (Array.isArray(backlog)) return countDrops(sse.open(ex, cameras, backlog));
    // The cluster bus reads its backlog from Redis; the stream opens once it is in.
    return backlog.then((events) => {
      if (ex.open) countDrops(sse.open(ex, cameras, events));
    });
  };
}

function parseEventId(raw: string): number | null {
  return /^\d{1,15}$/.test(raw.trim()) ? Number(raw.trim()) : null;
}

type StaticRouteId = 'dashboard' | 'docs' | 'openapi' | 'dashboardAsset' | 'swaggerUiAsset';

function staticHandlers(files: StaticFiles, swaggerUi: StaticFiles): Record<StaticRouteId, Handler> {
  const serve = (ex: Exchange, source: StaticFiles, relative: string): Promise<void> =>
    source.get(relative).then((file: StaticFile | null) => {
      if (file === null) ex.error(404, 'not_found', `no such file ${quoteShort(ex.path, 128)}`);
      else ex.send(200, file.body, [['Content-Type', file.contentType], ['Cache-Control', 'no-cache']]);
    });
  return {
    dashboard: (ex) => serve(ex, files, 'index.html'),
    docs: (ex) => serve(ex, files, 'docs/index.html'),
    openapi: (ex) => serve(ex, files, 'openapi.json'),
    dashboardAsset: (ex) => serve(ex, files, ex.path.slice('/static/'.length)),
    swaggerUiAsset: (ex) => serve(ex, swaggerUi, ex.path.slice('/vendor/swagger-ui/'.length)),
  };
}

function registerFallbacks(app: TemplatedApp, ctx: HttpContext): void {
  app.options(
    '/*',
    route(ctx, (ex) => {
      const methods = methodsForPath(ex.path);
      if (methods.length === 0) return ex.error(404, 'not_found', `no route ${quoteShort(ex.path, 128)}`);
      ex.res.cork(() => {
        ex.writeHead(204, [
          ['Allow', [...methods, 'OPTIONS'].join(', ')],
          ...(ex.corsOrigin === ''
            ? []
            : ([
                ['Access-Control-Allow-Methods', [...methods, 'OPTIONS'].join(', ')],
                ['Access-Control-Allow-Headers', PREFLIGHT_HEADERS],
                ['Access-Control-Max-Age', '600'],
              ] as const)),
        ]);
        ex.res.endWithoutBody(0);
      });
      ex.endStream();
    }),
  );
  app.any(
    '/*',
    route(ctx, (ex) => {
      if (ex.path === '/ws') return ex.error(426, 'upgrade_required', 'GET /ws expects a WebSocket upgrade');
      const methods = methodsForPath(ex.path);
      if (methods.length === 0) return ex.error(404, 'not_found', `no route ${ex.method} ${quoteShort(ex.path, 128)}`);
      ex.send(405, JSON.stringify({ error: { code: 'method_not_allowed', message: `${ex.method} is not allowed on ${quoteShort(ex.path, 128)}` } }), [
        ['Content-Type', 'application/json'],
        ['Allow', methods.join(', ')],
      ]);
    }),
  );
}
