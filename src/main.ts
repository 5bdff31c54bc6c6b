/**
 * Process entry: load config, start the service, stop it cleanly on SIGTERM/SIGINT
 * (drain in-flight work, stop ffmpeg children, flush capture) within a deadline.
 * It also stops when its parent process dies (npm, a supervisor killed with -9):
 * an orphaned service would keep cameras and ports busy with no one to stop it.
 */
import { ConfigError, loadConfig } from './config/load.js';
import { startService } from './app/service.js';
import { ExposureError } from './api/exposure.js';
import { createLogger } from './telemetry/logger.js';

/** How often the parent process is checked; Linux has no portable "parent died" event for Node. */
const PARENT_CHECK_MS = 1000;

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`config error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.log_level);
  let service;
  try {
    service = await startService(config, { log });
  } catch (err) {
    if (err instanceof ExposureError) {
      // A configuration problem like any other: one line, exit 2.
      log.fatal({ err: err.message }, 'start-up refused');
      process.stderr.write(`config error: ${err.message}\n`);
      process.exit(2);
    }
    // Start-up failures (missing model, port in use, no native uWS) are one clear line.
    log.fatal({ err: (err as Error).message }, 'start-up failed');
    process.stderr.write(`start-up failed: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const running = service;
  const deadlineMs = config.server.shutdown_deadline_ms;
  let signalled = false;
  const shutdown = (reason: NodeJS.Signals | 'parent exited'): void => {
    if (signalled) return;
    signalled = true;
    log.info({ reason }, 'shutting down');
    const deadline = setTimeout(() => {
      log.error({ deadline_ms: deadlineMs }, 'shutdown deadline passed; exiting');
      process.exit(1);
    }, deadlineMs);
    deadline.unref();
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: (err as Error).message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  // Started by a parent (not as PID 1's direct child, e.g. in a container): stop when it goes.
  const parent = process.ppid;
  if (parent > 1) {
    const watch = setInterval(() => {
      if (process.ppid !== parent) {
        clearInterval(watch);
        shutdown('parent exited');
      }
    }, PARENT_CHECK_MS);
    watch.unref();
  }
}

void main();
