/**
 * Feeds inference capture: for each published event of a camera running
 * here that capture wants, the camera's frame and source size go with it.
 */
import type { StreamEvent } from '../contracts/events.js';
import type { CameraManager } from '../ingest/camera-manager.js';
import type { InferenceCapture } from '../capture/inference-capture.js';

export function captureFeed(cameras: CameraManager, capture: InferenceCapture): (event: StreamEvent) => void {
  return (event) => {
    const camera = cameras.get(event.camera_id);
    if (!camera || !capture.shouldCapture(camera.id, event.frame, camera.config)) return;
    const { source_width: width, source_height: height } = camera.status();
    capture.offer({ camera: camera.config, event, image: camera.captureFrame(event.frame), sourceSize: width > 0 ? { width, height } : undefined });
  };
}
