/**
 * One HTTP exchange on uWebSockets.js: abort tracking, corked writes (needed
 * after any await), CORS headers for allowed origins, JSON errors and the one
 * log line per request.
 */
import { STATUS_CODES } from 'node:http';
import type { HttpRequest, HttpResponse, RecognizedString } from 'uWebSockets.js';
import { HttpError } from './deps.js';
import type { OriginPolicy } from './cors.js';
import type { RequestView } from './auth/gate.js';
import type { Logger } from '../telemetry/logger.js';

export interface HttpContext {
  log: Logger;
  origins: OriginPolicy;
}

export type HeaderList = readonly (readonly [string, string])[];

const statusLines = new Map<number, string>();
/** Bodies above this size are sent with tryEnd/onWritable instead of end(). */
const STREAM_THRESHOLD = 64 * 1024;

export function statusLine(status: number): string {
  let line = statusLines.get(status);
  if (line === undefined) {
    line = `${status} ${STATUS_CODES[status] ?? 'Unknown'}`;
    statusLines.set(status, line);
  }
  return line;
}

export function errorBody(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } });
}

export class Exchange {
  aborted = false;
  /** Set once the response is complete (or the stream has ended). */
  finished = false;
  status = 0;
  readonly method: string;
  readonly path: string;
  /** The request's Origin when it is an allowed cross-origin caller, else "". */
  readonly corsOrigin: string;
  private readonly started = performance.now();
  private readonly abortHandlers: (() => void)[] = [];

  constructor(
    readonly res: HttpResponse,
    req: HttpRequest,
    readonly ctx: HttpContext,
  ) {
    this.method = req.getMethod().toUpperCase();
    this.path = req.getUrl();
    const origin = req.getHeader('origin');
    this.corsOrigin = ctx.origins.judge(origin, req.getHeader('host')) === 'allowed' ? origin : '';
    // uWS allows one abort handler per response; fan it out here.
    res.onAborted(() => {
      this.aborted = true;
      for (const handler of this.abortHandlers) handler();
      this.logDone(this.status === 0 ? 499 : this.status, true);
    });
  }

  onAbort(handler: () => void): void {
    this.abortHandlers.push(handler);
  }

  /** Whether a response may still be written. */
  get open(): boolean {
    return !this.aborted && !this.finished;
  }

  send(status: number, body: RecognizedString | undefined, headers: HeaderList = [], closeConnection = false): void {
    if (!this.open) return;
    this.finished = true;
    this.status = status;
    if (Buffer.isBuffer(body) && body.length > STREAM_THRESHOLD && !closeConnection) {
      this.sendStreamed(status, body, headers);
      return;
    }
    this.res.cork(() => {
      this.writeHead(status, headers);
      if (body === undefined) this.res.endWithoutBody(0, closeConnection);
      else this.res.end(body, closeConnection);
    });
    this.logDone(status, false);
  }

  /**
   * Large bodies go out with tryEnd as the socket takes them: uWS keeps no
   * copy of the unsent rest (end() would), the caller's buffer is the only one.
   */
  private sendStreamed(status: number, body: Buffer, headers: HeaderList): void {
    const res = this.res;
    const total = body.length;
    let start = 0;
    let responded = false;
    res.cork(() => {
      this.writeHead(status, headers);
      start = res.getWriteOffset();
      const [ok, done] = res.tryEnd(body, total);
      responded = done;
      if (ok || done) return;
      res.onWritable((offset) => {
        if (this.aborted) return true;
        const [sent, finished] = res.tryEnd(body.subarray(offset - start), total);
        if (finished) this.logDone(status, false);
        return sent;
      });
    });
    if (responded) this.logDone(status, false);
  }

  json(status: number, value: unknown, headers: HeaderList = []): void {
    this.send(status, JSON.stringify(value), [['Content-Type', 'application/json'], ...headers]);
  }

  error(status: number, code: string, message: string, closeConnection = false): void {
    this.send(status, errorBody(code, message), [['Content-Type', 'application/json']], closeConnection);
  }

  /** Answers a thrown value: HttpError keeps its status, anything else is a logged 500. */
  fail(err: unknown): void {
    if (err instanceof HttpError) {
      this.error(err.status, err.code, err.message);
      return;
    }
    this.ctx.log.error({ err, method: this.method, path: this.path }, 'request failed');
    this.error(500, 'internal', 'internal server error');
  }

  /** Status line, CORS and given headers; the caller must be inside cork. */
  writeHead(status: number, headers: HeaderList): void {
    this.status = status;
    this.res.writeStatus(statusLine(status));
    if (this.corsOrigin !== '') this.res.writeHeader('Access-Control-Allow-Origin', this.corsOrigin);
    if (this.ctx.origins.crossOrigin) this.res.writeHeader('Vary', 'Origin');
    for (const [key, value] of headers) this.res.writeHeader(key, value);
  }

  /** Logs a stream (SSE) that ended without send(). */
  endStream(): void {
    if (this.finished) return;
    this.finished = true;
    this.logDone(this.status, false);
  }

  private logged = false;

  private logDone(status: number, aborted: boolean): void {
    if (this.logged) return;
    this.logged = true;
    const latency_ms = Math.round((performance.now() - this.started) * 100) / 100;
    this.ctx.log.info({ method: this.method, path: this.path, status, latency_ms, ...(aborted ? { aborted } : {}) }, 'request');
  }
}

/** The gate's view of a uWS request; must be made synchronously in the handler. */
export function requestView(res: HttpResponse, req: HttpRequest): RequestView {
  return {
    header: (name) => req.getHeader(name),
    query: (name) => req.getQuery(name),
    remoteAddress: Buffer.from(res.getRemoteAddressAsText()).toString(),
  };
}
