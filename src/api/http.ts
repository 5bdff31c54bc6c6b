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
  /** Bounds on reading and discarding a refused request's body (see Exchange.rejectUpload). */
  refusalDrainBytes: number;
  refusalDrainMs: number;
  /** A request body must arrive completely within this. */
  requestTimeoutMs: number;
}

/** Handles body data; uWS neuters `chunk` after the call returns. */
export type BodySink = (chunk: ArrayBuffer, isLast: boolean) => void;

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
  /** Declared Content-Length: null when absent, NaN when malformed. */
  readonly contentLength: number | null;
  readonly chunked: boolean;
  /** Why the request's framing is ambiguous (duplicate or conflicting headers), or null. */
  readonly framingProblem: string | null;
  private readonly started = performance.now();
  private readonly abortHandlers: (() => void)[] = [];
  private bodySink: BodySink | null = null;

  constructor(
    readonly res: HttpResponse,
    req: HttpRequest,
    readonly ctx: HttpContext,
  ) {
    this.method = req.getMethod().toUpperCase();
    this.path = req.getUrl();
    const origin = req.getHeader('origin');
    this.corsOrigin = ctx.origins.judge(origin, req.getHeader('host')) === 'allowed' ? origin : '';
    const framing = inspectFraming(req);
    this.contentLength = framing.contentLength;
    this.chunked = framing.chunked;
    this.framingProblem = framing.problem;
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

  /** Whether the request carries a body (declared or chunked). */
  get hasBody(): boolean {
    return this.chunked || (this.contentLength !== null && this.contentLength !== 0);
  }

  /**
   * Routes body data to `sink`, replacing any earlier sink. The first call must
   * happen synchronously in the route handler (uWS delivers data right after).
   */
  receiveBody(sink: BodySink): void {
    const first = this.bodySink === null;
    this.bodySink = sink;
    if (first) this.res.onData((chunk, isLast) => this.bodySink?.(chunk, isLast));
  }

  /**
   * Refuses a request that is still sending its body (413, or 401/403 on an
   * upload) so that every common client reads the answer: the status and
   * `Connection: close` go out at once, the rest of the body is read and
   * discarded up to refusalDrainBytes / refusalDrainMs, and only then is the
   * response completed. Clients that send the whole body before reading
   * (Python's http.client, fetch) would otherwise see EPIPE instead of the
   * answer. A body declared larger than the drain bound is not waited for.
   * Call synchronously in the handler or from a body sink.
   */
  rejectUpload(status: number, code: string, message: string, headers: HeaderList = []): void {
    if (!this.open) return;
    const body = errorBody(code, message);
    const { refusalDrainBytes: maxBytes, refusalDrainMs: maxMs } = this.ctx;
    const tooBig = this.contentLength !== null && (Number.isNaN(this.contentLength) || this.contentLength > maxBytes);
    if (!this.hasBody || tooBig || maxBytes === 0 || maxMs === 0) {
      // Without a body nothing is left to read; past the bound the rest is not waited for.
      this.send(status, body, [['Content-Type', 'application/json'], ...headers], this.hasBody);
      return;
    }
    this.finished = true;
    this.status = status;
    // Chunked, so the response stays open (uWS forbids touching it once ended) while the body drains.
    this.res.cork(() => {
      this.writeHead(status, [['Content-Type', 'application/json'], ['Connection', 'close'], ...headers]);
      this.res.write(body);
    });
    let drained = 0;
    let done = false;
    const finish = (complete: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.bodySink = null;
      if (this.aborted) return;
      // Complete: the client has sent everything and reads a whole response (it closes, as asked).
      // Past a bound: cut the connection; a client still sending may see a reset, by design.
      this.res.cork(() => (complete ? this.res.end() : this.res.close()));
      this.logDone(status, !complete);
    };
    const timer = setTimeout(() => finish(false), maxMs);
    this.onAbort(() => {
      done = true;
      clearTimeout(timer);
    });
    this.receiveBody((chunk, isLast) => {
      drained += chunk.byteLength;
      if (isLast) finish(true);
      else if (drained > maxBytes) finish(false);
    });
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

// eslint-disable-next-line no-control-regex -- control characters are what is looked for
const CONTROL_IN_VALUE = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/** Content-Length / Transfer-Encoding as uWS saw them, and anything that makes the framing ambiguous. */
function inspectFraming(req: HttpRequest): { contentLength: number | null; chunked: boolean; problem: string | null } {
  let lengths = 0;
  let encodings = 0;
  let hosts = 0;
  let problem: string | null = null;
  req.forEach((key, value) => {
    if (key === 'content-length') lengths++;
    else if (key === 'transfer-encoding') encodings++;
    else if (key === 'host') hosts++;
    if (CONTROL_IN_VALUE.test(value)) problem ??= `control characters in the ${key.slice(0, 40)} header`;
  });
  const rawLength = req.getHeader('content-length');
  const encoding = req.getHeader('transfer-encoding');
  const contentLength = rawLength === '' && lengths === 0 ? null : /^\d{1,15}$/.test(rawLength) ? Number(rawLength) : Number.NaN;
  if (lengths > 1) problem = 'more than one Content-Length header';
  else if (encodings > 1) problem = 'more than one Transfer-Encoding header';
  else if (lengths > 0 && encodings > 0) problem = 'both Content-Length and Transfer-Encoding';
  else if (encodings > 0 && encoding.trim().toLowerCase() !== 'chunked') problem = 'Transfer-Encoding other than chunked';
  else if (hosts > 1) problem = 'more than one Host header';
  else if (Number.isNaN(contentLength)) problem = 'malformed Content-Length';
  return { contentLength, chunked: encodings > 0, problem };
}
