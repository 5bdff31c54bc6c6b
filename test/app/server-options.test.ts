/** The HTTP server's options from the configuration: names, and seconds turned into milliseconds. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { serverOptions } from '../../src/app/server-options.js';
import { logger } from '../../src/telemetry/logger.js';

describe('serverOptions', () => {
  it('carries the server, auth and stream settings over, in milliseconds where the config says seconds', () => {
    const base = loadConfig({ env: {} });
    const config = {
      ...base,
      server: {
        ...base.server,
        port: 8123,
        max_upload_bytes: 1000,
        cors_origins: ['https://a.example'],
        trust_proxy: true,
        request_timeout_s: 7,
        refusal_drain_bytes: 2048,
        refusal_drain_s: 3,
        auth: { ...base.server.auth, token_secret: 's3cret', token_ttl_s: 60, max_failures_per_minute: 9 },
      },
      streams: { ...base.streams, sse_heartbeat_ms: 1500, client_max_buffered_bytes: 4096, client_max_lag_s: 11 },
    };
    const onClients = (): void => {};
    const log = logger();
    const opts = serverOptions(config, { host: '127.0.0.1', logger: log, onClients });
    expect(opts).toEqual({
      host: '127.0.0.1',
      port: 8123,
      maxUploadBytes: 1000,
      corsOrigins: ['https://a.example'],
      auth: { keys: base.server.auth.keys, tokenSecret: 's3cret', tokenTtlS: 60, maxFailuresPerMinute: 9, trustProxy: true },
      requestTimeoutMs: 7000,
      refusalDrainBytes: 2048,
      refusalDrainMs: 3000,
      sseHeartbeatMs: 1500,
      clientMaxBufferedBytes: 4096,
      slowClientDisconnectMs: 11_000,
      clientMaxLagMs: 11_000,
      logger: log,
      onClients,
    });
  });
});
