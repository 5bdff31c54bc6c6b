/**
 * Why a request was refused by authentication. One list, counted by the API
 * and exported by telemetry (rate_limited: refused for too many failures).
 */
export const AUTH_FAILURE_REASONS = ['missing', 'invalid', 'expired', 'forbidden', 'origin', 'rate_limited'] as const;
export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number];
