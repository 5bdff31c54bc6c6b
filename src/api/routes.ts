/**
 * Every route the server answers, in one list: the server registers from it
 * and the OpenAPI / Postman tests compare against it. Paths use OpenAPI's
 * `{param}` form; a trailing `*` means "any file below".
 */

export type HttpMethod = 'GET' | 'POST' | 'DELETE' | 'OPTIONS';

export type RouteKind = 'api' | 'stream' | 'static';

export interface RouteInfo {
  method: HttpMethod;
  path: string;
  summary: string;
  /** api: JSON/REST; stream: SSE or WebSocket; static: files for the dashboard and docs. */
  kind: RouteKind;
}

export const ROUTES: readonly RouteInfo[] = Object.freeze([
  { method: 'GET', path: '/health', summary: 'Service health', kind: 'api' },
  { method: 'GET', path: '/health/stream', summary: 'Status of every camera', kind: 'api' },
  { method: 'POST', path: '/predict', summary: 'Run the model on one uploaded image (multipart field "file")', kind: 'api' },
  { method: 'GET', path: '/cameras', summary: 'List cameras', kind: 'api' },
  { method: 'POST', path: '/cameras', summary: 'Add and start a camera', kind: 'api' },
  { method: 'DELETE', path: '/cameras/{id}', summary: 'Stop and remove a camera', kind: 'api' },
  { method: 'GET', path: '/cameras/{id}/preview.jpg', summary: 'Latest JPEG preview of a camera', kind: 'api' },
  { method: 'GET', path: '/metrics', summary: 'Prometheus metrics', kind: 'api' },
  { method: 'GET', path: '/stream', summary: 'Server-sent events of inference results', kind: 'stream' },
  { method: 'GET', path: '/ws', summary: 'WebSocket of inference results with per-camera subscriptions', kind: 'stream' },
  { method: 'GET', path: '/', summary: 'Dashboard', kind: 'static' },
  { method: 'GET', path: '/docs', summary: 'API documentation (Swagger UI)', kind: 'static' },
  { method: 'GET', path: '/openapi.json', summary: 'OpenAPI document', kind: 'static' },
  { method: 'GET', path: '/static/*', summary: 'Dashboard assets', kind: 'static' },
  { method: 'GET', path: '/vendor/swagger-ui/*', summary: 'Swagger UI assets', kind: 'static' },
].map((route) => Object.freeze(route as RouteInfo)));

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
