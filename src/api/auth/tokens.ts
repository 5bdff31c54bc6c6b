/**
 * Short-lived stream tokens for clients that cannot send an Authorization
 * header (EventSource, the browser WebSocket): `v1.<expiry s>.<role>.<key id>.<HMAC>`.
 * The HMAC-SHA256 covers everything before it; a token names its key by id
 * only, so it never carries the key into a URL or an access log.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiRole } from '../../config/schema.js';
import type { KeyMatch } from './keyring.js';

export interface IssuedToken {
  token: string;
  role: ApiRole;
  expires_at: string;
  expires_in_s: number;
}

export type TokenCheck = KeyMatch | 'invalid' | 'expired';

const VERSION = 'v1';
const TOKEN = /^v1\.(\d{1,12})\.(read|admin)\.([0-9a-f]{12})\.([A-Za-z0-9_-]{43})$/;

export class StreamTokens {
  private readonly secret: Buffer;

  /** `secret` "" = random per process: tokens then only work on the instance that issued them. */
  constructor(
    secret: string,
    private readonly ttlS: number,
  ) {
    this.secret = secret === '' ? randomBytes(32) : Buffer.from(secret, 'utf8');
  }

  issue(key: KeyMatch, nowMs: number): IssuedToken {
    const expiry = Math.floor(nowMs / 1000) + this.ttlS;
    const body = `${VERSION}.${expiry}.${key.role}.${key.keyId}`;
    return { token: `${body}.${this.sign(body)}`, role: key.role, expires_at: new Date(expiry * 1000).toISOString(), expires_in_s: this.ttlS };
  }

  verify(token: string, nowMs: number): TokenCheck {
    const parts = TOKEN.exec(token);
    if (!parts) return 'invalid';
    // Compared as text: decoding first would let the unused low bits of the last character vary.
    const signature = Buffer.from(parts[4] as string);
    const expected = Buffer.from(this.sign(token.slice(0, token.lastIndexOf('.'))));
    if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) return 'invalid';
    if (Number(parts[1]) * 1000 <= nowMs) return 'expired';
    return { role: parts[2] as ApiRole, keyId: parts[3] as string };
  }

  private sign(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url');
  }
}
