/**
 * The one check every request passes before its handler: browser origin,
 * per-client rate limit on failed attempts, credentials (Bearer key, or a
 * stream token in `?token=` where the route allows it) and the route's role.
 * Answers 401 (no or bad credentials), 403 (wrong role or origin) and 429
 * (too many failures) as data; the transports turn them into responses.
 */
import type { ApiKeyConfig, ApiRole } from '../../config/schema.js';
import type { AuthFailureReason } from '../../contracts/auth.js';
import type { OriginPolicy } from '../cors.js';
import { isLoopback } from '../exposure.js';
import type { RouteInfo } from '../routes.js';
import { FailureLimiter } from './failures.js';
import { Keyring, type KeyMatch } from './keyring.js';
import { StreamTokens, type IssuedToken } from './tokens.js';

/** Who is calling: a key or token's role, or (auth off) everyone as admin with no key id. */
export interface Principal {
  role: ApiRole;
  keyId: string | null;
}

/** What the gate needs of a request, whether HTTP or a WebSocket upgrade. */
export interface RequestView {
  /** Lower-case header name; "" when absent. */
  header(name: string): string;
  query(name: string): string | undefined;
  /** The peer address (before any X-Forwarded-For handling). */
  remoteAddress: string;
}

export interface Refusal {
  status: 401 | 403 | 429;
  code: string;
  message: string;
  headers: [string, string][];
}

export type Admission = { ok: true; principal: Principal | null } | { ok: false; refusal: Refusal };

export interface GateOptions {
  keys: readonly ApiKeyConfig[];
  tokenSecret: string;
  tokenTtlS: number;
  maxFailuresPerMinute: number;
  /** Client IP from the last X-Forwarded-For entry (a trusted load balancer in front). */
  trustProxy: boolean;
  origins: OriginPolicy;
  /**
   * The server listens on loopback only: without keys, requests must also be
   * addressed to a loopback name, so a page whose DNS name was rebound to
   * 127.0.0.1 (same origin as far as the browser knows) gets nothing.
   */
  loopbackOnly: boolean;
  onFailure: (reason: AuthFailureReason) => void;
  now?: () => number;
}

const OPEN: Principal = { role: 'admin', keyId: null };
const OPEN_KEY_ID = '000000000000';

/** `127.0.0.1:8000` → `127.0.0.1`, `[::1]:8000` → `[::1]`. */
function hostName(host: string): string {
  return host.replace(/:\d+$/, '');
}

/** The credential of `Authorization: Bearer <credential>`, or null for any other form. */
function bearerOf(req: RequestView): string | null {
  return /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.header('authorization'))?.[1] ?? null;
}
const CHALLENGE = 'Bearer realm="stream-ml-service"';

export class Gate {
  private readonly keyring: Keyring;
  private readonly tokens: StreamTokens;
  private readonly limiter: FailureLimiter;
  private readonly now: () => number;

  constructor(private readonly opts: GateOptions) {
    this.keyring = new Keyring(opts.keys);
    this.tokens = new StreamTokens(opts.tokenSecret, opts.tokenTtlS);
    this.limiter = new FailureLimiter(opts.maxFailuresPerMinute);
    this.now = opts.now ?? Date.now;
  }

  admit(route: RouteInfo, req: RequestView): Admission {
    if (this.opts.origins.judge(req.header('origin'), req.header('host')) === 'refused') {
      return this.refuse('origin', 403, 'origin_not_allowed', 'requests from this browser origin are not allowed (server.cors_origins)');
    }
    if (!this.keyring.enabled) {
      if (this.opts.loopbackOnly && !isLoopback(hostName(req.header('host')))) {
        return this.refuse('origin', 403, 'host_not_allowed', 'without API keys this service answers only requests addressed to localhost or 127.0.0.1');
      }
      return { ok: true, principal: OPEN };
    }
    if (route.access === 'public') return { ok: true, principal: this.bearerKey(req) };

    const ip = this.clientIp(req);
    const now = this.now();
    const retryAfter = this.limiter.retryAfterS(ip, now);
    if (retryAfter > 0) {
      return this.refuse('rate_limited', 429, 'too_many_failures', `too many failed authentications from this client; retry in ${retryAfter} s`, [['Retry-After', String(retryAfter)]]);
    }

    const credential = this.credential(route, req, now);
    if (credential === 'missing') {
      const how = route.queryToken ? 'send Authorization: Bearer <key>, or ?token= from POST /auth/token' : 'send Authorization: Bearer <key>';
      return this.refuse('missing', 401, 'unauthorized', `an API key is required: ${how}`, [['WWW-Authenticate', CHALLENGE]]);
    }
    if (credential === 'invalid' || credential === 'expired') {
      if (credential === 'invalid') this.limiter.fail(ip, now);
      const what = credential === 'expired' ? 'the stream token has expired; get a new one from POST /auth/token' : 'the API key or token is not valid';
      return this.refuse(credential, 401, credential === 'expired' ? 'token_expired' : 'invalid_credentials', what, [['WWW-Authenticate', `${CHALLENGE}, error="invalid_token"`]]);
    }
    if (route.access === 'admin' && credential.role !== 'admin') {
      return this.refuse('forbidden', 403, 'forbidden', `${route.method} ${route.path} needs an admin key; this key has the role ${credential.role}`);
    }
    return { ok: true, principal: credential };
  }

  issueToken(principal: Principal): IssuedToken {
    // With authentication off the token is not needed, but clients need not know that.
    return this.tokens.issue({ role: principal.role, keyId: principal.keyId ?? OPEN_KEY_ID }, this.now());
  }

  private credential(route: RouteInfo, req: RequestView, now: number): KeyMatch | 'missing' | 'invalid' | 'expired' {
    if (req.header('authorization') !== '') {
      const key = bearerOf(req);
      return (key !== null && this.keyring.match(key)) || 'invalid';
    }
    const token = route.queryToken ? req.query('token') : undefined;
    if (token === undefined || token === '') return 'missing';
    return this.tokens.verify(token, now);
  }

  /** A valid Bearer key on a public route (for more detail), never a failure. */
  private bearerKey(req: RequestView): Principal | null {
    const key = bearerOf(req);
    return key === null ? null : this.keyring.match(key);
  }

  private clientIp(req: RequestView): string {
    if (this.opts.trustProxy) {
      const forwarded = req.header('x-forwarded-for').split(',').map((part) => part.trim()).filter((part) => part !== '');
      const last = forwarded[forwarded.length - 1];
      if (last !== undefined) return last;
    }
    return req.remoteAddress;
  }

  private refuse(reason: AuthFailureReason, status: Refusal['status'], code: string, message: string, headers: [string, string][] = []): Admission {
    this.opts.onFailure(reason);
    return { ok: false, refusal: { status, code, message, headers } };
  }
}
