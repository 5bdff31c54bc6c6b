/**
 * The one slow-client policy shared by SSE and WebSocket: over the buffer
 * limit an event is dropped (and counted); over it for too long, disconnect.
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

/** Updates the state for a client holding `buffered` bytes at time `now`. */
export function judgeSlowClient(policy: SlowClientPolicy, state: SlowClientState, buffered: number, now: number): SlowVerdict {
  if (buffered <= policy.maxBufferedBytes) {
    state.overSince = 0;
    return 'ok';
  }
  if (state.overSince === 0) state.overSince = now;
  return now - state.overSince >= policy.disconnectAfterMs ? 'disconnect' : 'over';
}
