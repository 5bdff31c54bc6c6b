/**
 * Safe by default: where the service may listen given its authentication.
 * Without API keys it listens on loopback only; any other address needs keys
 * or the explicit `server.auth.disabled: true`, which is warned about at
 * every start.
 */
export interface ListenPlan {
  host: string;
  /** The one line to log about exposure, or null when there is nothing to say. */
  notice: { level: 'info' | 'warn'; message: string } | null;
}

export class ExposureError extends Error {
  override name = 'ExposureError';
}

const HOW_TO_EXPOSE =
  'to expose it, set API keys (APP_API_KEYS="admin:<key>,read:<key>", APP_API_KEYS_FILE or server.auth.keys; keys are at least 16 characters, e.g. `openssl rand -hex 24`), or set server.auth.disabled: true (APP_AUTH_DISABLED=true) to serve without authentication';

export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/**
 * `host` "" chooses: 0.0.0.0 with keys or auth disabled, else 127.0.0.1.
 * Throws ExposureError for a non-loopback host without keys or the opt-out.
 */
export function planListen(host: string, keyCount: number, authDisabled: boolean): ListenPlan {
  if (keyCount > 0) {
    return {
      host: host === '' ? '0.0.0.0' : host,
      notice: authDisabled ? { level: 'warn', message: 'server.auth.disabled is ignored: API keys are configured, so every protected route needs one' } : null,
    };
  }
  if (authDisabled) {
    const bound = host === '' ? '0.0.0.0' : host;
    if (isLoopback(bound)) return { host: bound, notice: null };
    return {
      host: bound,
      notice: { level: 'warn', message: `authentication is DISABLED (server.auth.disabled: true) and the service listens on ${bound}: anyone who can reach it can add and remove cameras and read every stream` },
    };
  }
  if (host === '') return { host: '127.0.0.1', notice: { level: 'info', message: `no API keys are configured, so the service listens on 127.0.0.1 only; ${HOW_TO_EXPOSE}` } };
  if (isLoopback(host)) return { host, notice: null };
  throw new ExposureError(`server.host = ${JSON.stringify(host)} is not a loopback address and no API keys are configured; ${HOW_TO_EXPOSE}`);
}
