/**
 * The HTTP server: wires the REST handlers, SSE, WebSocket, static files and
 * CORS onto one uWebSockets.js app, fans events out to stream clients, and
 * owns listening and shutdown.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import type { ApiDeps } from './deps.js';
import type { StreamEvent } from '../contracts/events.js';
import type { ClientMetrics } from '../telemetry/snapshot.js';
import type { Logger } from '../telemetry/logger.js';
import { loadNativeUws } from './native-check.js';
import { registerApiRoutes, route } from './handlers.js';
import type { Exchange, HttpContext } from './http.js';
import { methodsForPath, ROUTES, type RouteInfo } from './routes.js';
import { SseHub, sseFrame } from './sse.js';
import { StaticFiles, type StaticFile } from './static-files.js';
import { WsHub } from './ws.js';
import type { SlowClientPolicy } from './slow-client.js';

export interface ServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  maxUploadBytes: number;
  /** Access-Control-Allow-Origin; empty disables CORS headers. */
  corsOrigin: string;
  sseHeartbeatMs: number;
  /** Per SSE/WebSocket client: bytes waiting to be sent above which its events are dropped. */
  clientMaxBufferedBytes: number;
  /** Time a client may stay over clientMaxBufferedBytes before it is disconnected (default 30 s). */
  slowClientDisconnectMs?: number;
  /** Dashboard and docs files; default `<project>/src/api/static`. */
  staticDir?: string;
  /** Swagger UI files; default the installed `swagger-ui-dist` package, null to disable. */
  swaggerUiDir?: string | null;
  logger: Logger;
  /** Called when the number of SSE or WebSocket clients changes. */
  onClients?: (sse: number, ws: number) => void;
}

export interface RunningServer {
  port: number;
  routes: RouteInfo[];
  /** Stream client counters for the metrics snapshot. */
  clients(): ClientMetrics;
  /** Stops listening, ends SSE and WebSocket clients, closes every connection. */
  close(): Promise<void>;
}

const DEFAULT_SLOW_CLIENT_DISCONNECT_MS = 30_000;
// LIBUS_LISTEN_EXCLUSIVE_PORT: without it a second server on the same port
// would silently share it (SO_REUSEPORT) instead of failing.
const LISTEN_EXCLUSIVE_PORT = 1;
const PREFLIGHT_HEADERS = 'Content-Type, Last-Event-ID';

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
  const ctx: HttpContext = { log: opts.logger, corsOrigin: opts.corsOrigin };
  const policy: SlowClientPolicy = {
    maxBufferedBytes: opts.clientMaxBufferedBytes,
    disconnectAfterMs: opts.slowClientDisconnectMs ?? DEFAULT_SLOW_CLIENT_DISCONNECT_MS,
  };
  const counters = { published: 0, dropped: 0 };
  const reportClients = (): void => opts.onClients?.(sse.size, ws.size);
  const sse = new SseHub(policy, reportClients);
  const ws = new WsHub(app, {
    policy,
    log: opts.logger,
    cameraIds: () => deps.cameras.list().map((camera) => camera.id),
    onCountChange: reportClients,
  });
  const countDrops = (n: number): void => {
    if (n === 0) return;
    counters.dropped += n;
    deps.onClientDrop(n);
  };

  registerApiRoutes(app, deps, ctx, { maxUploadBytes: opts.maxUploadBytes });
  registerStream(app, deps, ctx, sse, countDrops);
  app.ws('/ws', ws.behavior());
  registerStatic(app, ctx, new StaticFiles(opts.staticDir ?? defaultStaticDir()), new StaticFiles(opts.swaggerUiDir === undefined ? defaultSwaggerUiDir() : opts.swaggerUiDir));
  registerFallbacks(app, ctx);

  const unsubscribe = deps.events.subscribe((event: StreamEvent) => {
    counters.published++;
    if (sse.size === 0 && ws.size === 0) return;
    // Serialised once per event, whatever the number of clients.
    const json = JSON.stringify(event);
    let drops = 0;
    if (ws.size > 0) drops += ws.broadcast(event.camera, json);
    if (sse.size > 0) drops += sse.broadcast(event.camera, sseFrame(event.id, json));
    countDrops(drops);
  });
  const heartbeat = setInterval(() => sse.heartbeat(), Math.max(10, opts.sseHeartbeatMs));
  const sweeper = setInterval(() => {
    const now = Date.now();
    sse.sweep(now);
    ws.sweep(now);
  }, Math.max(10, Math.min(1000, Math.floor(policy.disconnectAfterMs / 4))));
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
    routes: [...ROUTES],
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

function registerStream(app: TemplatedApp, deps: ApiDeps, ctx: HttpContext, sse: SseHub, countDrops: (n: number) => void): void {
  app.get(
    '/stream',
    route(ctx, (ex, req) => {
      const filter = req.getQuery('camera') ?? '';
      const ids = filter.split(',').filter((id) => id !== '');
      const cameras = ids.length > 0 ? new Set(ids) : null;
      const lastId = parseEventId(req.getHeader('last-event-id')) ?? parseEventId(req.getQuery('last_event_id') ?? '');
      const backlog = lastId === null ? [] : deps.events.since(lastId);
      countDrops(sse.open(ex, cameras, backlog));
    }),
  );
}

function parseEventId(raw: string): number | null {
  return /^\d{1,15}$/.test(raw.trim()) ? Number(raw.trim()) : null;
}

function registerStatic(app: TemplatedApp, ctx: HttpContext, files: StaticFiles, swaggerUi: StaticFiles): void {
  const serve = (ex: Exchange, source: StaticFiles, relative: string): Promise<void> =>
    source.get(relative).then((file: StaticFile | null) => {
      if (file === null) ex.error(404, 'not_found', `no such file ${ex.path}`);
      else ex.send(200, file.body, [['Content-Type', file.contentType], ['Cache-Control', 'no-cache']]);
    });
  app.get('/', route(ctx, (ex) => serve(ex, files, 'index.html')));
  app.get('/docs', route(ctx, (ex) => serve(ex, files, 'docs/index.html')));
  app.get('/openapi.json', route(ctx, (ex) => serve(ex, files, 'openapi.json')));
  app.get('/static/*', route(ctx, (ex) => serve(ex, files, ex.path.slice('/static/'.length))));
  app.get('/vendor/swagger-ui/*', route(ctx, (ex) => serve(ex, swaggerUi, ex.path.slice('/vendor/swagger-ui/'.length))));
}

function registerFallbacks(app: TemplatedApp, ctx: HttpContext): void {
  app.options(
    '/*',
    route(ctx, (ex) => {
      const methods = methodsForPath(ex.path);
      if (methods.length === 0) return ex.error(404, 'not_found', `no route ${ex.path}`);
      ex.res.cork(() => {
        ex.writeHead(204, [
          ['Allow', [...methods, 'OPTIONS'].join(', ')],
          ...(ctx.corsOrigin === ''
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
      if (methods.length === 0) return ex.error(404, 'not_found', `no route ${ex.method} ${ex.path}`);
      ex.send(405, JSON.stringify({ error: { code: 'method_not_allowed', message: `${ex.method} is not allowed on ${ex.path}` } }), [
        ['Content-Type', 'application/json'],
        ['Allow', methods.join(', ')],
      ]);
    }),
  );
}
