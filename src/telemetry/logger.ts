/** JSON-lines logging through pino; one root logger, children per component. */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

let root: Logger | undefined;

export function createLogger(level: LevelWithSilent = 'info'): Logger {
  root = pino({ level, base: { service: 'stream-ml-service' }, timestamp: pino.stdTimeFunctions.isoTime });
  return root;
}

/** The process logger; silent until createLogger is called (tests stay quiet). */
export function logger(): Logger {
  root ??= pino({ level: process.env.APP_LOG_LEVEL ?? 'silent' });
  return root;
}
