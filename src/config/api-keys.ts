/**
 * API keys as the config holds them: hashed on load, so no plaintext key is
 * kept in memory past this point. Keys are long random strings, so one
 * SHA-256 is enough (no password KDF needed); the API hashes a presented key
 * the same way and compares hashes.
 */
import { createHash } from 'node:crypto';
import { API_ROLES, type ApiKeyConfig, type ApiRole } from './schema.js';

/** Shorter keys are refused: they could be guessed within the failure rate limit. */
export const MIN_API_KEY_LENGTH = 16;
const SHA256_HEX = /^[0-9a-f]{64}$/;

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Why a key entry is invalid, or null. */
function keyProblem(role: unknown, secret: { key?: unknown; sha256?: unknown }): string | null {
  if (typeof role !== 'string' || !(API_ROLES as readonly string[]).includes(role)) return `role must be one of ${API_ROLES.join(', ')}`;
  if (secret.sha256 !== undefined) {
    return typeof secret.sha256 === 'string' && SHA256_HEX.test(secret.sha256.toLowerCase()) ? null : 'sha256 must be 64 hex digits';
  }
  if (typeof secret.key !== 'string' || secret.key.length < MIN_API_KEY_LENGTH || /\s|,/.test(secret.key)) {
    return `a key must be at least ${MIN_API_KEY_LENGTH} characters without spaces or commas (e.g. \`openssl rand -hex 24\`)`;
  }
  return null;
}

/** One `{role, key}` or `{role, sha256}` mapping (YAML); throws the problem text. */
export function apiKeyFromEntry(entry: unknown): ApiKeyConfig {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new Error('each key is a mapping with role and key (or sha256)');
  const { role, key, sha256, ...rest } = entry as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) throw new Error(`unknown key ${extra[0]}; allowed keys here: role, key, sha256`);
  if ((key === undefined) === (sha256 === undefined)) throw new Error('give exactly one of key and sha256');
  const problem = keyProblem(role, { key, sha256 });
  if (problem) throw new Error(problem);
  return { role: role as ApiRole, sha256: sha256 !== undefined ? (sha256 as string).toLowerCase() : hashApiKey(key as string) };
}

/**
 * `role:key` entries separated by commas or newlines (`#` starts a comment
 * line), as APP_API_KEYS or the file in APP_API_KEYS_FILE hold them;
 * `role:sha256:<hex>` gives a key by its hash. Throws the problem text
 * (never the key itself).
 */
export function parseApiKeyList(text: string): ApiKeyConfig[] {
  const keys: ApiKeyConfig[] = [];
  const entries = text
    .split('\n')
    .filter((line) => !line.trim().startsWith('#'))
    .flatMap((line) => line.split(','))
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  entries.forEach((entry, i) => {
    const colon = entry.indexOf(':');
    const role = colon < 0 ? '' : entry.slice(0, colon);
    const secret = colon < 0 ? '' : entry.slice(colon + 1);
    const hashed = secret.startsWith('sha256:') ? { sha256: secret.slice('sha256:'.length) } : { key: secret };
    const problem = colon < 0 ? 'expected role:key' : keyProblem(role, hashed);
    if (problem) throw new Error(`entry ${i + 1}: ${problem}`);
    keys.push({ role: role as ApiRole, sha256: hashed.sha256?.toLowerCase() ?? hashApiKey(hashed.key as string) });
  });
  return keys;
}
