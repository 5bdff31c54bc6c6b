/** The parts of authentication on their own: exposure plan, tokens, failure limiter, origin policy, keyring. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FailureLimiter } from '../../src/api/auth/failures.js';
import { Keyring } from '../../src/api/auth/keyring.js';
import { StreamTokens } from '../../src/api/auth/tokens.js';
import { OriginPolicy } from '../../src/api/cors.js';
import { ExposureError, planListen } from '../../src/api/exposure.js';

describe('planListen (safe by default)', () => {
  it('without keys: loopback only, with one line on how to expose', () => {
    const plan = planListen('', 0, false);
    expect(plan.host).toBe('127.0.0.1');
    expect(plan.notice?.level).toBe('info');
    expect(plan.notice?.message).toMatch(/listens on 127\.0\.0\.1 only; to expose it, set API keys \(APP_API_KEYS=.*server\.auth\.disabled: true/);
    for (const host of ['127.0.0.1', 'localhost', '::1', '127.0.0.2']) expect(planListen(host, 0, false)).toEqual({ host, notice: null });
  });

  it('refuses a non-loopback host without keys, unless auth is explicitly disabled (then warns)', () => {
    for (const host of ['0.0.0.0', '::', '10.0.0.5']) {
      expect(() => planListen(host, 0, false)).toThrow(ExposureError);
      expect(() => planListen(host, 0, false)).toThrow(/not a loopback address and no API keys are configured/);
      const plan = planListen(host, 0, true);
      expect(plan.host).toBe(host);
      expect(plan.notice).toMatchObject({ level: 'warn', message: expect.stringContaining('authentication is DISABLED') });
    }
    expect(planListen('', 0, true).host).toBe('0.0.0.0');
  });

  it('with keys: all interfaces by default, the given host otherwise', () => {
    expect(planListen('', 2, false)).toEqual({ host: '0.0.0.0', notice: null });
    expect(planListen('10.0.0.5', 1, false)).toEqual({ host: '10.0.0.5', notice: null });
    expect(planListen('', 1, true).notice?.level).toBe('warn');
  });
});

describe('StreamTokens', () => {
  const key = { role: 'read' as const, keyId: 'abcdef012345' };

  it('verifies its own tokens until they expire', () => {
    const tokens = new StreamTokens('s'.repeat(32), 60);
    const { token } = tokens.issue(key, 1_000_000);
    expect(tokens.verify(token, 1_000_000)).toEqual(key);
    expect(tokens.verify(token, 1_059_999)).toEqual(key);
    expect(tokens.verify(token, 1_060_000)).toBe('expired');
  });

  it('refuses tampered tokens and tokens signed with another secret', () => {
    const tokens = new StreamTokens('s'.repeat(32), 60);
    const { token } = tokens.issue(key, 0);
    const [v, expiry, , id, sig] = token.split('.');
    expect(tokens.verify([v, expiry, 'admin', id, sig].join('.'), 0)).toBe('invalid');
    expect(tokens.verify([v, String(Number(expiry) + 1000), 'read', id, sig].join('.'), 0)).toBe('invalid');
    expect(tokens.verify(token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A'), 0)).toBe('invalid');
    expect(new StreamTokens('t'.repeat(32), 60).verify(token, 0)).toBe('invalid');
    // The same secret on another instance accepts it (several tasks behind one load balancer).
    expect(new StreamTokens('s'.repeat(32), 60).verify(token, 0)).toEqual(key);
    // Random per-process secrets do not accept each other's tokens.
    expect(new StreamTokens('', 60).verify(new StreamTokens('', 60).issue(key, 0).token, 0)).toBe('invalid');
  });
});

describe('FailureLimiter', () => {
  it('allows maxPerMinute failures per IP, then refills over the minute; IPs are separate', () => {
    const limiter = new FailureLimiter(3);
    for (let i = 0; i < 3; i++) {
      expect(limiter.retryAfterS('a', 0)).toBe(0);
      limiter.fail('a', 0);
    }
    expect(limiter.retryAfterS('a', 0)).toBe(20);
    expect(limiter.retryAfterS('b', 0)).toBe(0);
    expect(limiter.retryAfterS('a', 19_999)).toBe(1);
    expect(limiter.retryAfterS('a', 20_000)).toBe(0);
  });
});

describe('OriginPolicy', () => {
  it('passes no Origin and the same origin, allows listed origins and refuses the rest', () => {
    const policy = new OriginPolicy(['https://ops.example']);
    expect(policy.judge('', '127.0.0.1:8000')).toBe('none');
    expect(policy.judge('http://127.0.0.1:8000', '127.0.0.1:8000')).toBe('same');
    expect(policy.judge('https://svc.example', 'svc.example')).toBe('same');
    expect(policy.judge('https://ops.example', '127.0.0.1:8000')).toBe('allowed');
    expect(policy.judge('http://127.0.0.1:8001', '127.0.0.1:8000')).toBe('refused');
    expect(policy.judge('null', '127.0.0.1:8000')).toBe('refused');
    expect(policy.judge('http://evil.example', '')).toBe('refused');
  });
});

describe('Keyring', () => {
  it('matches keys by hash and names them by a hash prefix', () => {
    const sha = createHash('sha256').update('k'.repeat(20)).digest('hex');
    const ring = new Keyring([{ role: 'admin', sha256: sha }]);
    expect(ring.enabled).toBe(true);
    expect(ring.match('k'.repeat(20))).toEqual({ role: 'admin', keyId: sha.slice(0, 12) });
    expect(ring.match('k'.repeat(19))).toBeNull();
    expect(new Keyring([]).enabled).toBe(false);
  });
});
