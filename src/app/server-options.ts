/** The HTTP server's options, from the configuration (seconds become milliseconds here). */
import type { AppConfig } from '../config/schema.js';
import type { ServerOptions } from '../api/server.js';
import type { Logger } from '../telemetry/logger.js';

export function serverOptions(
  config: AppConfig,
  run: { host: string; logger: Logger; onClients: NonNullable<ServerOptions['onClients']> },
): ServerOptions {
  const { server, streams } = config;
  const auth = server.auth;
  return {
    host: run.host,
    port: server.port,
    maxUploadBytes: server.max_upload_bytes,
    corsOrigins: server.cors_origins,
    auth: {
      keys: auth.keys,
      tokenSecret: auth.token_secret,
      tokenTtlS: auth.token_ttl_s,
      maxFailuresPerMinute: auth.max_failures_per_minute,
      trustProxy: server.trust_proxy,
    },
    requestTimeoutMs: server.request_timeout_s * 1000,
    refusalDrainBytes: server.refusal_drain_bytes,
    refusalDrainMs: server.refusal_drain_s * 1000,
    sseHeartbeatMs: streams.sse_heartbeat_ms,
    clientMaxBufferedBytes: streams.client_max_buffered_bytes,
    slowClientDisconnectMs: streams.client_max_lag_s * 1000,
    clientMaxLagMs: streams.client_max_lag_s * 1000,
    logger: run.logger,
    onClients: run.onClients,
  };
}
