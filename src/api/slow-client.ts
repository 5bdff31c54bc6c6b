/**
 * The one slow-client policy shared by SSE and WebSocket: over the buffer
 * limit an event is dropped (and counted); over it for too long, disconnect.
 * Separately, a client that has been behind — holding data it has not taken,
 * or (WebSocket) not answering a ping sent after it — for the maximum lag is
 * disconnected, whatever the buffer: the kernel holds megabytes per socket
 * before the server's own buffer grows, so the buffer alone notices a
 * stalled client only minutes late at ordinary event rates.
 */
export interface SlowClientPolicy {
  /** Per-client bytes waiting to be sent above which events are dropped. */
  maxBufferedBytes: number;
  /** Continuous time over the limit after which the client is disconnected. */
  disconnectAfterMs: number;
}

/** Per-client state of the policy; `overSince` is 0 while under the limit. */
export interface SlowClientState {
  overSince: number;
}

export type SlowVerdict = 'ok' | 'over' | 'disconnect';

/** Per-client lag state; `behindSince` is 0 while the client is caught up. */
export interface LagState {
  behindSince: number;
}

/** Whether a client `behind` at `now` has been so for at least maxLagMs (since `since` when given). */
export function lagExceeded(maxLagMs: number, state: LagState, behind: boolean, now: number, since = 0): boolean {
  if (!behind) {
    state.behindSince = 0;
    return false;
  }
  if (state.behindSince === 0) state.behindSince = since > 0 ? since : now;
  return now - state.behindSince >= maxLagMs;
}

/** Updates the state for a client holding `buffered` bytes at time `now`. */
export function judgeSlowClient(policy: SlowClientPolicy, state: SlowClientState, buffered: number, now: number): SlowVerdict {
  if (buffered <= policy.maxBufferedBytes) {
    state.overSince = 0;
    return 'ok';
  }
  if (state.overSince === 0) state.overSince = now;
  return now - state.overSince >= policy.disconnectAfterMs ? 'disconnect' : 'over';
}
