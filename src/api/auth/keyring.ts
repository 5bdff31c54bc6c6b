/**
 * The configured API keys, held only as SHA-256 hashes. A presented key is
 * hashed and compared with every stored hash in constant time, so neither
 * the answer time nor an early exit tells how much of a key was right.
 */
import { timingSafeEqual } from 'node:crypto';
import { hashApiKey } from '../../config/api-keys.js';
import type { ApiKeyConfig, ApiRole } from '../../config/schema.js';

export interface KeyMatch {
  role: ApiRole;
  /** First 12 hex digits of the key's hash: names the key in logs, reveals nothing of it. */
  keyId: string;
}

export class Keyring {
  private readonly keys: readonly { hash: Buffer; match: KeyMatch }[];

  constructor(keys: readonly ApiKeyConfig[]) {
    this.keys = keys.map((key) => ({ hash: Buffer.from(key.sha256, 'hex'), match: { role: key.role, keyId: key.sha256.slice(0, 12) } }));
  }

  /** Whether authentication is on (at least one key configured). */
  get enabled(): boolean {
    return this.keys.length > 0;
  }

  match(presented: string): KeyMatch | null {
    const hash = Buffer.from(hashApiKey(presented), 'hex');
    let found: KeyMatch | null = null;
    // No early exit: every stored hash is compared.
    for (const key of this.keys) if (timingSafeEqual(hash, key.hash) && found === null) found = key.match;
    return found;
  }
}
