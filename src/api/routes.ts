/**
 * Every route the server answers, declared once: the server registers its
 * handlers from this list (a handler per id, checked by the compiler), and
 * the OpenAPI document and Postman collection are generated from it. Paths
 * use OpenAPI's `{param}` form; a trailing `*` means "any file below".
 */

export type HttpMethod = 'GET' | 'POST' | 'DELETE' | 'OPTIONS';

export type RouteKind = 'api' | 'stream' | 'static';

/**
 * Who may call a route when API keys are configured: anyone (`public`), a
 * `read` or `admin` key (`read`), or an `admin` key (`admin`: anything that
 * changes state).
 */
export type RouteAccess = 'public' | 'read' | 'admin';

export interface RouteInfo {
  /** Also the OpenAPI operationId. */
  id: string;
  method: HttpMethod;
  path: string;
  summary: string;
  /** api: JSON/REST; stream: SSE or WebSocket; static: files for the dashboard and docs. */
  kind: RouteKind;
  access: RouteAccess;
  /**
   * Also accepts a stream token as `?token=` (browsers cannot set headers on
   * EventSource and WebSocket); a key itself is never accepted in a URL.
   */
  queryToken?: true;
}

export const ROUTES = [
  { id: 'getHealth', method: 'GET', path: '/health', summary: 'Service health (liveness without a key; details with one)', kind: 'api', access: 'public' },
  { id: 'getLiveness', method: 'GET', path: '/health/live', summary: 'Liveness: the process answers (container health checks)', kind: 'api', access: 'public' },
  { id: 'getReadiness', method: 'GET', path: '/health/ready', summary: 'Readiness: 503 while this instance cannot do its job (load balancers; problems with a key)', kind: 'api', access: 'public' },
  { id: 'getStreamHealth', method: 'GET', path: '/health/stream', summary: 'Per-camera status', kind: 'api', access: 'read' },
  { id: 'predict', method: 'POST', path: '/predict', summary: 'Run the active model on one image (multipart field "file")', kind: 'api', access: 'read' },
  { id: 'listCameras', method: 'GET', path: '/cameras', summary: 'List cameras', kind: 'api', access: 'read' },
  { id: 'addCamera', method: 'POST', path: '/cameras', summary: 'Add and start a camera', kind: 'api', access: 'admin' },
  { id: 'removeCamera', method: 'DELETE', path: '/cameras/{id}', summary: 'Stop and remove a camera', kind: 'api', access: 'admin' },
  { id: 'cameraPreview', method: 'GET', path: '/cameras/{id}/preview.jpg', summary: "A small JPEG of the camera's current picture", kind: 'api', access: 'read' },
  { id: 'metrics', method: 'GET', path: '/metrics', summary: 'Prometheus metrics', kind: 'api', access: 'read' },
  { id: 'createStreamToken', method: 'POST', path: '/auth/token', summary: 'Exchange an API key for a short-lived stream token', kind: 'api', access: 'read' },
  { id: 'streamEvents', method: 'GET', path: '/stream', summary: 'Server-Sent Events, one per inferred frame', kind: 'stream', access: 'read', queryToken: true },
  { id: 'websocketEvents', method: 'GET', path: '/ws', summary: 'WebSocket with the same events and per-camera subscriptions', kind: 'stream', access: 'read', queryToken: true },
  { id: 'dashboard', method: 'GET', path: '/', summary: 'Live dashboard', kind: 'static', access: 'public' },
  { id: 'docs', method: 'GET', path: '/docs', summary: 'Interactive API docs (Swagger UI)', kind: 'static', access: 'public' },
  { id: 'openapi', method: 'GET', path: '/openapi.json', summary: 'This OpenAPI document', kind: 'static', access: 'public' },
  { id: 'dashboardAsset', method: 'GET', path: '/static/*', summary: 'Dashboard assets (any file below /static/)', kind: 'static', access: 'public' },
  { id: 'swaggerUiAsset', method: 'GET', path: '/vendor/swagger-ui/*', summary: 'Swagger UI assets (any file below /vendor/swagger-ui/)', kind: 'static', access: 'public' },
] as const satisfies readonly RouteInfo[];

export type RouteId = (typeof ROUTES)[number]['id'];
/** The one route served by a WebSocket upgrade rather than an HTTP handler. */
export const WEBSOCKET_ROUTE = 'websocketEvents' satisfies RouteId;
export type HttpRouteId = Exclude<RouteId, typeof WEBSOCKET_ROUTE>;

/** `/cameras/{id}` → `/cameras/:id`, the uWebSockets.js pattern form. */
export function uwsPattern(path: string): string {
  return path.replace(/\{([^}]+)\}/g, ':$1');
}

/** Methods registered for a concrete request path (for 405 answers). */
export function methodsForPath(urlPath: string): HttpMethod[] {
  const out: HttpMethod[] = [];
  for (const route of ROUTES) if (matches(route.path, urlPath) && !out.includes(route.method)) out.push(route.method);
  return out;
}

function matches(pattern: string, urlPath: string): boolean {
  if (pattern.endsWith('/*')) return urlPath.startsWith(pattern.slice(0, -1));
  const want = pattern.split('/');
  const got = urlPath.split('/');
  if (want.length !== got.length) return false;
  return want.every((segment, i) => (segment.startsWith('{') ? (got[i] ?? '') !== '' : segment === got[i]));
}
