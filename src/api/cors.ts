/**
 * Which browser origins may use the API. Same-origin pages (the dashboard,
 * the docs) always may; other origins only when listed in
 * `server.cors_origins`. Requests without an Origin header (curl, SDKs,
 * Prometheus) are not browser cross-origin requests and pass.
 */
export type OriginVerdict = 'none' | 'same' | 'allowed' | 'refused';

export const PREFLIGHT_HEADERS = 'Authorization, Content-Type, Last-Event-ID';

export class OriginPolicy {
  private readonly allowed: ReadonlySet<string>;

  constructor(allowed: readonly string[]) {
    this.allowed = new Set(allowed);
  }

  /** Whether any cross-origin access is configured (then answers vary by Origin). */
  get crossOrigin(): boolean {
    return this.allowed.size > 0;
  }

  judge(origin: string, host: string): OriginVerdict {
    if (origin === '') return 'none';
    if (this.allowed.has(origin)) return 'allowed';
    return sameHost(origin, host) ? 'same' : 'refused';
  }
}

/** Same origin as far as the server can tell: the Origin's host:port is the Host the request was sent to. */
function sameHost(origin: string, host: string): boolean {
  if (host === '') return false;
  try {
    return new URL(origin).host === new URL(`http://${host}`).host;
  } catch {
    return false;
  }
}
