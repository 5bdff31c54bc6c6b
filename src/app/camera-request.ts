/**
 * A POST /cameras body as a camera config, or the 400 the client gets:
 * schema, fps limit and source policy. Shared by single-process and cluster
 * mode, so a camera added on any instance passed the same checks.
 */
import type { CameraConfig, StreamsConfig } from '../config/schema.js';
import { applyFpsLimit, ConfigError, parseCamera } from '../config/load.js';
import { checkCameraSource, SourcePolicyError, type SourceCheck } from '../ingest/source-policy.js';
import { HttpError } from '../api/deps.js';

export async function parseCameraRequest(body: unknown, streams: StreamsConfig, sourceCheck: SourceCheck): Promise<CameraConfig> {
  try {
    const camera = applyFpsLimit(parseCamera(body, 'camera', 'request'), streams, 'camera', 'request');
    await checkCameraSource(camera.url, sourceCheck);
    return camera;
  } catch (err) {
    if (err instanceof ConfigError) throw new HttpError(400, err.message, 'invalid_camera');
    if (err instanceof SourcePolicyError) throw new HttpError(400, err.message, 'source_not_allowed');
    throw err;
  }
}
