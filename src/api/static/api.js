/* global sessionStorage */
// REST calls the dashboard makes. Every function throws an Error whose
// message is fit to show to the operator; AuthRequired when the service wants
// a (different) API key.

// The key lives for this tab only (sessionStorage): never in a URL, never on disk.
const KEY_STORAGE = 'stream-ml-service.api-key';

export class AuthRequired extends Error {}

export function hasKey() {
  return sessionStorage.getItem(KEY_STORAGE) !== null;
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_STORAGE);
}

/** fetch() with the tab's key as a Bearer header. */
function call(path, init = {}) {
  const key = sessionStorage.getItem(KEY_STORAGE);
  const headers = key === null ? init.headers : { ...init.headers, authorization: `Bearer ${key}` };
  return fetch(path, { ...init, headers });
}

async function failure(res) {
  let detail = '';
  try {
    // The server answers {"error": {"code", "message"}}.
    const body = await res.json();
    detail = body?.error?.message || body?.message || (typeof body?.error === 'string' ? body.error : '');
  } catch {
    // Not JSON: the status line is all we have.
  }
  const message = detail ? `${res.status}: ${detail}` : `${res.status} ${res.statusText}`;
  return res.status === 401 ? new AuthRequired(message) : new Error(message);
}

/**
 * Checks `key` by asking for a stream token with it; keeps it for this tab
 * when the service accepts it.
 * @returns {Promise<string>} the key's role
 */
export async function login(key) {
  const res = await fetch('/auth/token', { method: 'POST', headers: { authorization: `Bearer ${key}` } });
  if (!res.ok) throw await failure(res);
  sessionStorage.setItem(KEY_STORAGE, key);
  return (await res.json()).role;
}

/** A short-lived token for the WebSocket (browsers cannot send headers on it). */
export async function getStreamToken() {
  const res = await call('/auth/token', { method: 'POST' });
  if (!res.ok) throw await failure(res);
  return (await res.json()).token;
}

/** The metrics text, for the header link (a plain link could not send the key). */
export async function getMetricsText() {
  const res = await call('/metrics', { cache: 'no-store' });
  if (!res.ok) throw await failure(res);
  return res.text();
}

export async function getHealth() {
  const res = await call('/health', { cache: 'no-store' });
  if (!res.ok) throw await failure(res);
  return res.json();
}

/** @returns {Promise<Array<object>>} CameraStatus list */
export async function getCameraStatuses() {
  const res = await call('/health/stream', { cache: 'no-store' });
  if (!res.ok) throw await failure(res);
  const body = await res.json();
  return Array.isArray(body.cameras) ? body.cameras : [];
}

export async function addCamera(input) {
  const res = await call('/cameras', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(input),
  });
  if (res.status !== 201 && !res.ok) throw await failure(res);
  return res.json();
}

/** @returns {Promise<boolean>} false when the camera was already gone */
export async function removeCamera(id) {
  const res = await call(`/cameras/${encodeURIComponent(id)}`, { method: 'DELETE' });
  if (res.status === 404) return false;
  if (!res.ok) throw await failure(res);
  return true;
}

/**
 * @returns {Promise<{blob: Blob, frame: number|null}|null>} the JPEG and, when
 *   the server names it (X-Frame), the frame number it shows; null while the
 *   camera has no frame yet
 */
export async function getPreview(id, signal) {
  const res = await call(`/cameras/${encodeURIComponent(id)}/preview.jpg`, { cache: 'no-store', signal });
  if (res.status === 503) return null;
  if (!res.ok) throw await failure(res);
  const frame = Number.parseInt(res.headers.get('x-frame') ?? '', 10);
  return { blob: await res.blob(), frame: Number.isFinite(frame) ? frame : null };
}
