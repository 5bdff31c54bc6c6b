// Live inference events over the /ws WebSocket, with reconnect. The
// dashboard shows every camera, so it stays on the server's default
// "all cameras" subscription and ignores events for cameras it has no card for.
// Browsers cannot send an Authorization header on a WebSocket, so each
// connection first gets a short-lived stream token with the tab's key.

import { AuthRequired, getStreamToken } from './api.js';

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10_000;

export class EventFeed {
  /**
   * @param {(event: object) => void} onEvent called for every StreamEvent
   * @param {(connected: boolean) => void} onConnection
   * @param {(err: Error) => void} onAuthRequired the key was refused; the feed stops
   */
  constructor(onEvent, onConnection, onAuthRequired) {
    this.onEvent = onEvent;
    this.onConnection = onConnection;
    this.onAuthRequired = onAuthRequired;
    this.socket = null;
    this.retryMs = RETRY_MIN_MS;
    this.closed = false;
  }

  start() {
    this.closed = false;
    this.connect();
  }

  stop() {
    this.closed = true;
    if (this.socket) this.socket.close();
  }

  retry() {
    if (this.closed) return;
    setTimeout(() => this.connect(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }

  async connect() {
    let token;
    try {
      token = await getStreamToken();
    } catch (err) {
      if (err instanceof AuthRequired) {
        this.closed = true;
        this.onAuthRequired(err);
      } else {
        this.retry();
      }
      return;
    }
    if (this.closed) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(`${scheme}//${location.host}/ws?token=${encodeURIComponent(token)}`);
    this.socket = socket;
    socket.addEventListener('open', () => {
      this.retryMs = RETRY_MIN_MS;
      this.onConnection(true);
    });
    socket.addEventListener('message', (msg) => {
      if (typeof msg.data !== 'string') return;
      let event;
      try {
        event = JSON.parse(msg.data);
      } catch {
        return;
      }
      // Acks and other control messages carry no camera frame.
      if (event && typeof (event.camera_id ?? event.camera) === 'string' && Array.isArray(event.predictions)) this.onEvent(event);
    });
    socket.addEventListener('close', () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.onConnection(false);
      this.retry();
    });
  }
}
