// REST calls the dashboard makes. Every function throws an Error whose
// message is fit to show to the operator.

async function failure(res) {
  let detail = '';
  try {
    // The server answers {"error": {"code", "message"}}.
    const body = await res.json();
    detail = body?.error?.message || body?.message || (typeof body?.error === 'string' ? body.error : '');
  } catch {
    // Not JSON: the status line is all we have.
  }
  return new Error(detail ? `${res.status}: ${detail}` : `${res.status} ${res.statusText}`);
}

export async function getHealth() {
  const res = await fetch('/health', { cache: 'no-store' });
  if (!res.ok) throw await failure(res);
  return res.json();
}

/** @returns {Promise<Array<object>>} CameraStatus list */
export async function getCameraStatuses() {
  const res = await fetch('/health/stream', { cache: 'no-store' });
  if (!res.ok) throw await failure(res);
  const body = await res.json();
  return Array.isArray(body.cameras) ? body.cameras : [];
}

export async function addCamera(input) {
  const res = await fetch('/cameras', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(input),
  });
  if (res.status !== 201 && !res.ok) throw await failure(res);
  return res.json();
}

/** @returns {Promise<boolean>} false when the camera was already gone */
export async function removeCamera(id) {
  const res = await fetch(`/cameras/${encodeURIComponent(id)}`, { method: 'DELETE' });
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
  const res = await fetch(`/cameras/${encodeURIComponent(id)}/preview.jpg`, { cache: 'no-store', signal });
  if (res.status === 503) return null;
  if (!res.ok) throw await failure(res);
  const frame = Number.parseInt(res.headers.get('x-frame') ?? '', 10);
  return { blob: await res.blob(), frame: Number.isFinite(frame) ? frame : null };
}
