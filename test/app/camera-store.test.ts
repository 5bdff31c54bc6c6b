import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CAMERAS_FILE, JsonFileCameraStore } from '../../src/app/camera-store.js';
import type { CameraConfig } from '../../src/config/schema.js';

const cam = (id: string, url = `rtsp://10.0.0.1/${id}`): CameraConfig => ({ id, url, fps: 5, transport: 'tcp', loop: true, realtime: true });

describe('JsonFileCameraStore', () => {
  it('has no list until something is stored, then keeps it across instances', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'store-'));
    const store = new JsonFileCameraStore(join(dir, 'data'));
    expect(await store.list()).toBeNull();
    await store.put(cam('a'));
    await store.put(cam('b'));
    await store.put(cam('a', 'rtsp://10.0.0.2/a'));
    await store.remove('b');
    const again = new JsonFileCameraStore(join(dir, 'data'));
    expect(await again.list()).toEqual([cam('a', 'rtsp://10.0.0.2/a')]);
    // Only the file itself: temporary files are renamed into place.
    expect(readdirSync(join(dir, 'data'))).toEqual([CAMERAS_FILE]);
    await again.remove('a');
    expect(await new JsonFileCameraStore(join(dir, 'data')).list()).toEqual([]);
  });

  it('applies concurrent changes in call order, none lost', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'store-'));
    const store = new JsonFileCameraStore(dir);
    await Promise.all(['a', 'b', 'c', 'd'].map((id) => store.put(cam(id))));
    expect((await new JsonFileCameraStore(dir).list())?.map((c) => c.id)).toEqual(['a', 'b', 'c', 'd']);
  });

  it.each([
    ['not JSON', '{"version": 1, "cameras": ['],
    ['not a camera list', '{"version": 1}'],
    ['an invalid camera', '{"version": 1, "cameras": [{"id": "a b", "url": "x"}]}'],
    ['a duplicate id', '{"version": 1, "cameras": [{"id": "a", "url": "x"}, {"id": "a", "url": "y"}]}'],
  ])('sets a corrupt file (%s) aside and reports it', async (_what, text) => {
    const dir = mkdtempSync(join(tmpdir(), 'store-'));
    writeFileSync(join(dir, CAMERAS_FILE), text);
    const reports: { file: string; movedTo: string; reason: string }[] = [];
    const store = new JsonFileCameraStore(dir, { onCorrupt: (r) => reports.push(r) });
    expect(await store.list()).toBeNull();
    expect(reports).toHaveLength(1);
    expect(reports[0]!.file).toBe(join(dir, CAMERAS_FILE));
    expect(reports[0]!.reason).toContain(CAMERAS_FILE);
    expect(existsSync(join(dir, CAMERAS_FILE))).toBe(false);
    // Nothing dropped: the bytes are kept beside it for the operator.
    expect(readFileSync(reports[0]!.movedTo, 'utf8')).toBe(text);
    await store.put(cam('z'));
    expect(await new JsonFileCameraStore(dir).list()).toEqual([cam('z')]);
  });
});
