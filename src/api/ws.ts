/**
 * WebSocket clients on uWS pub/sub. A socket is either on the `camera/*`
 * topic (every camera) or on `camera/<id>` topics, never both, so each event
 * is published to its camera topic and to `camera/*` and arrives once.
 * `maxBackpressure` makes uWS skip a socket holding more than the limit; the
 * hub counts those skips and disconnects sockets that stay over it.
 */
import type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, WebSocketBehavior, us_socket_context_t } from 'uWebSockets.js';
import type { Logger } from '../telemetry/logger.js';
import type { Refusal } from './auth/gate.js';
import { errorBody, statusLine } from './http.js';
import { judgeSlowClient, lagExceeded, type LagState, type SlowClientPolicy, type SlowClientState } from './slow-client.js';

export const ALL_TOPIC = 'camera/*';

export function cameraTopic(id: string): string {
  return `camera/${id}`;
}

interface WsUser extends SlowClientState, LagState {
  /** When the unanswered ping was sent (0 = none): its pong proves everything before it was read. */
  pingSentAt: number;
  all: boolean;
  cameras: Set<string>;
  openedAt: number;
  path: string;
}

/** A client control message, validated. */
export type WsCommand = { op: 'subscribe' | 'unsubscribe'; cameras: '*' | string[] };

const MAX_IDS = 256;
const MAX_ID_LENGTH = 128;

/** Parses `{"subscribe": [...] | "*"}` / `{"unsubscribe": ...}`; returns an error text when invalid. */
export function parseCommand(text: string): WsCommand | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'message is not JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'message must be a JSON object';
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length !== 1 || (keys[0] !== 'subscribe' && keys[0] !== 'unsubscribe')) {
    return 'expected {"subscribe": [...]} or {"unsubscribe": [...]}';
  }
  const op = keys[0];
  const arg = record[op];
  if (arg === '*') return { op, cameras: '*' };
  if (!Array.isArray(arg) || arg.length > MAX_IDS) return `"${op}" takes "*" or an array of camera ids`;
  const ids: string[] = [];
  for (const id of arg) {
    if (typeof id !== 'string' || id === '' || id.length > MAX_ID_LENGTH) return 'camera ids must be non-empty strings';
    ids.push(id);
  }
  return { op, cameras: ids };
}

export interface WsHubOptions {
  policy: SlowClientPolicy;
  /** A socket behind (unsent bytes, or an unanswered ping) this long is disconnected; default policy.disconnectAfterMs. */
  maxLagMs?: number;
  log: Logger;
  /** Known camera ids, to narrow "all" when a client unsubscribes some. */
  cameraIds: () => string[];
  onCountChange: () => void;
  /** Origin and credential check of the upgrade request; null admits it. */
  admit: (res: HttpResponse, req: HttpRequest) => Refusal | null;
}

export class WsHub {
  private readonly sockets = new Set<WebSocket<WsUser>>();

  constructor(
    private readonly app: TemplatedApp,
    private readonly opts: WsHubOptions,
  ) {}

  get size(): number {
    return this.sockets.size;
  }

  behavior(): WebSocketBehavior<WsUser> {
    return {
      maxPayloadLength: 16 * 1024,
      maxBackpressure: this.opts.policy.maxBufferedBytes,
      closeOnBackpressureLimit: 0,
      idleTimeout: 120,
      sendPingsAutomatically: true,
      pong: (ws) => {
        ws.getUserData().pingSentAt = 0;
      },
      upgrade: (res, req, context) => this.upgrade(res, req, context),
      open: (ws) => {
        const user = ws.getUserData();
        if (user.all) ws.subscribe(ALL_TOPIC);
        else for (const id of user.cameras) ws.subscribe(cameraTopic(id));
        this.sockets.add(ws);
        this.opts.onCountChange();
      },
      message: (ws, message, isBinary) => {
        if (isBinary) {
          this.reply(ws, { error: { code: 'bad_message', message: 'binary messages are not accepted' } });
          return;
        }
        const command = parseCommand(Buffer.from(message).toString('utf8'));
        if (typeof command === 'string') this.reply(ws, { error: { code: 'bad_message', message: command } });
        else this.apply(ws, command);
      },
      close: (ws, code) => {
        this.sockets.delete(ws);
        this.opts.onCountChange();
        const user = ws.getUserData();
        this.opts.log.info({ method: 'GET', path: user.path, status: 101, latency_ms: Date.now() - user.openedAt, close_code: code }, 'request');
      },
    };
  }

  /** Publishes one event; returns how many subscribed sockets were over the limit (uWS skips them). */
  broadcast(camera: string, json: string): number {
    const limit = this.opts.policy.maxBufferedBytes;
    let drops = 0;
    for (const ws of this.sockets) {
      const user = ws.getUserData();
      if ((user.all || user.cameras.has(camera)) && ws.getBufferedAmount() > limit) drops++;
    }
    this.app.publish(cameraTopic(camera), json);
    this.app.publish(ALL_TOPIC, json);
    return drops;
  }

  /**
   * Disconnects sockets that stayed over the buffer limit too long, or that
   * have not answered a ping for maxLagMs: the ping queues behind every event
   * sent before it, so its pong measures what the client has actually read,
   * which the server's buffer cannot show while the kernel still takes bytes.
   */
  sweep(now: number): void {
    const maxLagMs = this.opts.maxLagMs ?? this.opts.policy.disconnectAfterMs;
    for (const ws of this.sockets) {
      const user = ws.getUserData();
      const buffered = ws.getBufferedAmount();
      const lagging = lagExceeded(maxLagMs, user, buffered > 0 || user.pingSentAt > 0, now, user.pingSentAt);
      if (judgeSlowClient(this.opts.policy, user, buffered, now) === 'disconnect' || lagging) {
        // close(), not end(): a close frame would queue behind the backlog.
        ws.close();
        continue;
      }
      if (user.pingSentAt === 0) {
        ws.ping();
        user.pingSentAt = now;
      }
    }
  }

  closeAll(): void {
    for (const ws of [...this.sockets]) ws.end(1001, 'server shutting down');
  }

  private upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void {
    const refusal = this.opts.admit(res, req);
    if (refusal !== null) {
      // A plain JSON HTTP answer instead of 101.
      res.cork(() => {
        res.writeStatus(statusLine(refusal.status));
        res.writeHeader('Content-Type', 'application/json');
        for (const [key, value] of refusal.headers) res.writeHeader(key, value);
        res.end(errorBody(refusal.code, refusal.message), true);
      });
      this.opts.log.info({ method: 'GET', path: req.getUrl(), status: refusal.status, latency_ms: 0 }, 'request');
      return;
    }
    const filter = req.getQuery('camera') ?? '';
    const ids = filter === '' ? [] : filter.split(',').filter((id) => id !== '');
    const user: WsUser = { all: ids.length === 0, cameras: new Set(ids), overSince: 0, behindSince: 0, pingSentAt: 0, openedAt: Date.now(), path: req.getUrl() };
    res.upgrade(
      user,
      req.getHeader('sec-websocket-key'),
      req.getHeader('sec-websocket-protocol'),
      req.getHeader('sec-websocket-extensions'),
      context,
    );
  }

  private apply(ws: WebSocket<WsUser>, command: WsCommand): void {
    const user = ws.getUserData();
    if (command.cameras === '*') {
      this.setSubscription(ws, command.op === 'subscribe', []);
    } else if (command.op === 'subscribe') {
      // From "all", naming cameras narrows the subscription to them.
      const next = user.all ? new Set<string>() : new Set(user.cameras);
      for (const id of command.cameras) next.add(id);
      this.setSubscription(ws, false, [...next]);
    } else {
      const next = new Set(user.all ? this.opts.cameraIds() : user.cameras);
      for (const id of command.cameras) next.delete(id);
      this.setSubscription(ws, false, [...next]);
    }
    this.reply(ws, { subscribed: user.all ? '*' : [...user.cameras] });
  }

  private setSubscription(ws: WebSocket<WsUser>, all: boolean, ids: string[]): void {
    const user = ws.getUserData();
    const next = new Set(ids);
    if (user.all && !all) ws.unsubscribe(ALL_TOPIC);
    for (const id of user.cameras) if (all || !next.has(id)) ws.unsubscribe(cameraTopic(id));
    if (all) {
      if (!user.all) ws.subscribe(ALL_TOPIC);
      user.cameras = new Set();
    } else {
      for (const id of next) if (!user.cameras.has(id)) ws.subscribe(cameraTopic(id));
      user.cameras = next;
    }
    user.all = all;
  }

  private reply(ws: WebSocket<WsUser>, value: unknown): void {
    ws.send(JSON.stringify(value));
  }
}
