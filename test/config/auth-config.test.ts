/**
 * The authentication and CORS keys: keys from YAML, APP_API_KEYS and a file
 * (hashed on load, never echoed in errors), origins without "*".
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';

const ADMIN_KEY = 'admin-key-0123456789abcdef';
const READ_KEY = 'read-key-0123456789abcdef';
const sha = (key: string): string => createHash('sha256').update(key).digest('hex');

function tempFile(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'auth-cfg-')), name);
  writeFileSync(path, text);
  return path;
}

function configError(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig({ env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('server.auth.keys', () => {
  it('has no keys, no CORS origins and an automatic host by default', () => {
    const { server } = loadConfig({ env: {} });
    expect(server.auth.keys).toEqual([]);
    expect(server.auth.disabled).toBe(false);
    expect(server.cors_origins).toEqual([]);
    expect(server.host).toBe('');
  });

  it('reads APP_API_KEYS as role:key entries and keeps only their hashes', () => {
    const config = loadConfig({ env: { APP_API_KEYS: ` admin:${ADMIN_KEY}, read:${READ_KEY} ` } });
    expect(config.server.auth.keys).toEqual([
      { role: 'admin', sha256: sha(ADMIN_KEY) },
      { role: 'read', sha256: sha(READ_KEY) },
    ]);
    expect(JSON.stringify(config)).not.toContain(ADMIN_KEY);
  });

  it('reads APP_API_KEYS_FILE (lines, comments, pre-hashed keys) and adds APP_API_KEYS', () => {
    const file = tempFile('keys', `# ops keys\nadmin:${ADMIN_KEY}\n\nread:sha256:${sha(READ_KEY).toUpperCase()}\n`);
    const config = loadConfig({ env: { APP_API_KEYS_FILE: file, APP_API_KEYS: 'read:another-key-0123456789' } });
    expect(config.server.auth.keys.map((k) => k.sha256)).toEqual([sha('another-key-0123456789'), sha(ADMIN_KEY), sha(READ_KEY)]);
    expect(configError({ APP_API_KEYS_FILE: join(tmpdir(), 'no-such-keys-file') })).toMatch(/APP_API_KEYS_FILE = ".*no-such-keys-file" cannot be read \(ENOENT\)/);
  });

  it('takes keys from YAML by key or by sha256, and the environment replaces them', () => {
    const path = tempFile('c.yaml', `server:\n  auth:\n    keys:\n      - {role: admin, key: ${ADMIN_KEY}}\n      - {role: read, sha256: ${sha(READ_KEY)}}\n`);
    expect(loadConfig({ env: { APP_CONFIG_PATH: path } }).server.auth.keys).toEqual([
      { role: 'admin', sha256: sha(ADMIN_KEY) },
      { role: 'read', sha256: sha(READ_KEY) },
    ]);
    expect(loadConfig({ env: { APP_CONFIG_PATH: path, APP_API_KEYS: `read:${READ_KEY}` } }).server.auth.keys).toEqual([{ role: 'read', sha256: sha(READ_KEY) }]);
  });

  it('refuses unknown roles, short keys and bad hashes in one line that never shows the key', () => {
    const shortKey = 'short-secret';
    for (const [env, pattern] of [
      [{ APP_API_KEYS: `root:${ADMIN_KEY}` }, /APP_API_KEYS is invalid: entry 1: role must be one of read, admin/],
      [{ APP_API_KEYS: `read:${shortKey}` }, /entry 1: a key must be at least 16 characters/],
      [{ APP_API_KEYS: ADMIN_KEY }, /entry 1: expected role:key/],
      [{ APP_API_KEYS: 'read:sha256:abc' }, /sha256 must be 64 hex digits/],
      [{ APP_CONFIG_PATH: tempFile('k.yaml', `server:\n  auth:\n    keys:\n      - {role: read, key: ${shortKey}, sha256: ${sha(READ_KEY)}}\n`) }, /server\.auth\.keys\[0\] is invalid: give exactly one of key and sha256/],
    ] as const) {
      const message = configError(env);
      expect(message).toMatch(pattern);
      expect(message).not.toContain(shortKey);
      expect(message).not.toContain(ADMIN_KEY);
      expect(message.split('\n')).toHaveLength(1);
    }
  });

  it('reads the opt-out, the token secret (≥ 32 characters) and trust_proxy from the environment', () => {
    const config = loadConfig({ env: { APP_AUTH_DISABLED: 'true', APP_AUTH_TOKEN_SECRET: 'x'.repeat(32), APP_TRUST_PROXY: '1' } });
    expect(config.server.auth.disabled).toBe(true);
    expect(config.server.auth.token_secret).toBe('x'.repeat(32));
    expect(config.server.trust_proxy).toBe(true);
    const short = configError({ APP_AUTH_TOKEN_SECRET: 'too-short' });
    expect(short).toMatch(/APP_AUTH_TOKEN_SECRET \(server\.auth\.token_secret\) = \(hidden, 9 characters\) is invalid; allowed: "" .* at least 32/);
    expect(short).not.toContain('too-short');
  });
});

describe('server.cors_origins', () => {
  it('takes exact origins from YAML and APP_CORS_ORIGINS', () => {
    const path = tempFile('c.yaml', 'server:\n  cors_origins: ["https://ops.example.com", "http://127.0.0.1:3000"]\n');
    expect(loadConfig({ env: { APP_CONFIG_PATH: path } }).server.cors_origins).toEqual(['https://ops.example.com', 'http://127.0.0.1:3000']);
    expect(loadConfig({ env: { APP_CORS_ORIGINS: 'https://a.example, null' } }).server.cors_origins).toEqual(['https://a.example', 'null']);
  });

  it('refuses "*", paths and non-http schemes', () => {
    expect(configError({ APP_CORS_ORIGINS: '*' })).toMatch(/APP_CORS_ORIGINS \(server\.cors_origins\) = \["\*"\] is invalid; allowed: .*never \*/);
    expect(configError({ APP_CORS_ORIGINS: 'https://a.example/path' })).toMatch(/= \["https:\/\/a\.example\/path"\] is invalid/);
    expect(configError({ APP_CORS_ORIGINS: 'ftp://a.example' })).toMatch(/= \["ftp:\/\/a\.example"\] is invalid/);
    const yaml = tempFile('c.yaml', 'server:\n  cors_origins: ["https://ok.example", "*"]\n');
    expect(configError({ APP_CONFIG_PATH: yaml })).toMatch(/server\.cors_origins\[1\] = "\*" is invalid; allowed: origins like .*never \*/);
    expect(configError({ APP_CONFIG_PATH: tempFile('c.yaml', 'server:\n  cors_origin: "*"\n') })).toMatch(/unknown key server\.cors_origin; allowed keys here: .*cors_origins/);
  });
});
