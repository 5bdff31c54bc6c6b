/**
 * The engine end to end with real models and real COCO pictures written into
 * real frame rings, as the decoder worker would write them.
 */
import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { InferenceEngine, type EngineResult } from '../../src/engine/engine.js';
import { FrameArena, SLOT_READING } from '../../src/frames/ring.js';
import { ImageInputError } from '../../src/models/image.js';
import type { ResolvedModel } from '../../src/models/types.js';
import { fixturePath } from '../helpers/fixtures.js';
import { byCamera, cocoPicture, collect, engineConfig, loadModel, postprocess, writeFrame, type Picture } from './helpers.js';

let engine: InferenceEngine | undefined;
let feeder: NodeJS.Timeout | undefined;

afterEach(async () => {
  clearInterval(feeder);
  await engine?.close();
  engine = undefined;
});

function arenaFor(model: ResolvedModel, rings: number, slots = 4): FrameArena {
  return FrameArena.create({ width: model.spec.input.width, height: model.spec.input.height, channels: 3 }, slots, rings);
}

function noSlotHeld(arena: FrameArena): boolean {
  for (let r = 0; r < arena.size; r++) for (let s = 0; s < arena.handle.slotsPerRing; s++) if (arena.ring(r).slotState(s) === SLOT_READING) return false;
  return true;
}

describe('InferenceEngine with mobilenet_v2_int8', () => {
  const expected: [string, string][] = [
    ['000000000776.jpg', 'teddy'],
    ['000000000802.jpg', 'refrigerator'],
    ['000000000885.jpg', 'racket'],
  ];

  it('classifies frames from three rings in one batch, each result to its own camera', async () => {
    const model = await loadModel('mobilenet_v2_int8');
    const arena = arenaFor(model, 3);
    engine = await InferenceEngine.create({ model, engine: engineConfig({ max_batch: 8, max_wait_ms: 5000 }), postprocess, arena, maxImagePixels: 40_000_000 });
    expect(engine.provider).toBe('cpu');
    const pictures = await Promise.all(expected.map(([file]) => cocoPicture(file, model.spec.input)));
    expected.forEach((_, i) => engine!.attachCamera(`cam${i}`, i));
    const run = collect(engine, (all) => all.length >= 3);
    // Written in one go: the dispatcher sees all three and, with every lane
    // ready, sends them as one batch without waiting for max_wait_ms.
    pictures.forEach((p, i) => writeFrame(arena, i, p));
    const results = await run.finished;
    for (const [i, [, label]] of expected.entries()) {
      const r = byCamera(results, `cam${i}`);
      expect(r).toHaveLength(1);
      expect(r[0]!.predictions[0]!.label).toBe(label);
      expect(r[0]!.frame).toBe(1);
      expect(r[0]!.model).toBe('mobilenet_v2_int8');
      expect(r[0]!.latency_ms).toBeGreaterThanOrEqual(0);
      expect(Date.parse(r[0]!.captured_at)).not.toBeNaN();
    }
    const m = engine.metrics();
    expect(m.batches_total).toBe(1);
    expect(m.mean_batch_size).toBe(3);
    expect(m.inference_ms.count).toBe(1);
    expect(engine.cameraStats('cam1')).toMatchObject({ frames_out: 1, drops: { stale: 0, inference_error: 0 } });
    expect(noSlotHeld(arena)).toBe(true);
  });

  it('keeps serving a camera that has a frame now and then while another always has one', async () => {
    const model = await loadModel('mobilenet_v2_int8');
    const arena = arenaFor(model, 2);
    // One frame per batch, one batch at a time: the order of service is visible.
    engine = await InferenceEngine.create({ model, engine: engineConfig({ max_batch: 1, max_in_flight_batches: 1, max_wait_ms: 0 }), postprocess, arena, maxImagePixels: 40_000_000 });
    const busy = await cocoPicture('000000000776.jpg', model.spec.input);
    const quiet = await cocoPicture('000000000885.jpg', model.spec.input);
    engine.attachCamera('busy', 0);
    engine.attachCamera('quiet', 1);
    let quietSent = 1;
    const order: string[] = [];
    const run = collect(engine, (all) => all.length >= 12);
    engine.onResult((e) => {
      order.push(e.camera);
      // The busy camera always has a new frame ready; the quiet one gets one after every 3rd busy result.
      writeFrame(arena, 0, busy);
      if (e.camera === 'busy' && order.filter((c) => c === 'busy').length % 3 === 0) {
        writeFrame(arena, 1, quiet);
        quietSent++;
      }
    });
    writeFrame(arena, 0, busy);
    writeFrame(arena, 1, quiet);
    const results = await run.finished;
    // Every quiet frame is served right after the busy result during which it arrived.
    const quietResults = byCamera(results, 'quiet');
    expect(quietResults.length).toBeGreaterThanOrEqual(quietSent - 1);
    for (let i = 1; i < order.length; i++) {
      if (order[i - 1] === 'busy' && order.slice(0, i).filter((c) => c === 'busy').length % 3 === 0) expect(order[i]).toBe('quiet');
    }
    expect(quietResults.every((r) => r.predictions[0]!.label === 'racket')).toBe(true);
  });

  it('keeps each batch its own pixels when a worker holds two tasks at once (one worker, two batches in flight)', async () => {
    const model = await loadModel('mobilenet_v2_int8');
    const arena = arenaFor(model, 2);
    // One worker and the default in-flight count (2): the worker always has the next batch waiting beside the running one.
    engine = await InferenceEngine.create({ model, engine: engineConfig({ pool_size: 1, max_batch: 1, max_wait_ms: 0 }), postprocess, arena, maxImagePixels: 40_000_000 });
    const pictures = await Promise.all([cocoPicture('000000000776.jpg', model.spec.input), cocoPicture('000000000885.jpg', model.spec.input)]);
    engine.attachCamera('teddy', 0);
    engine.attachCamera('racket', 1);
    const run = collect(engine, (all) => all.length >= 120);
    engine.onResult((e) => writeFrame(arena, e.camera === 'teddy' ? 0 : 1, pictures[e.camera === 'teddy' ? 0 : 1]!));
    writeFrame(arena, 0, pictures[0]!);
    writeFrame(arena, 1, pictures[1]!);
    const results = await run.finished;
    expect(engine.metrics().batches_in_flight).toBeLessThanOrEqual(2);
    const wrong = results.filter((r) => r.predictions[0]!.label !== r.camera);
    expect(wrong.map((r) => `${r.camera} frame ${r.frame}: ${r.predictions[0]!.label}`)).toEqual([]);
  });

  it('drops frames older than max_frame_age_ms as stale and infers fresh ones', async () => {
    const model = await loadModel('mobilenet_v2_int8');
    const arena = arenaFor(model, 1);
    engine = await InferenceEngine.create({ model, engine: engineConfig({ max_frame_age_ms: 2000 }), postprocess, arena, maxImagePixels: 40_000_000 });
    const picture = await cocoPicture('000000000802.jpg', model.spec.input);
    engine.attachCamera('cam', 0);
    const run = collect(engine, (all) => all.length >= 1);
    writeFrame(arena, 0, picture, Date.now() - 30_000);
    const snapshot = await engine.requestSnapshot('cam', 30_000);
    // The old frame was claimed (and snapshotted), but never inferred.
    expect(snapshot?.frameNo).toBe(1);
    expect(engine.cameraStats('cam')!.drops).toEqual({ stale: 1, inference_error: 0 });
    writeFrame(arena, 0, picture);
    const [result] = await run.finished;
    expect(result!.frame).toBe(2);
    expect(result!.predictions[0]!.label).toBe('refrigerator');
    expect(engine.cameraStats('cam')).toMatchObject({ frames_out: 1, drops: { stale: 1, inference_error: 0 } });
    expect(noSlotHeld(arena)).toBe(true);
  });

  it('copies the next claimed frame for a snapshot, and answers null for an unknown camera', async () => {
    const model = await loadModel('mobilenet_v2_int8');
    const arena = arenaFor(model, 1);
    engine = await InferenceEngine.create({ model, engine: engineConfig(), postprocess, arena, maxImagePixels: 40_000_000 });
    const picture = await cocoPicture('000000000776.jpg', model.spec.input);
    engine.attachCamera('cam', 0);
    expect(await engine.requestSnapshot('nobody', 10)).toBeNull();
    const pending = engine.requestSnapshot('cam', 30_000);
    const run = collect(engine, (all) => all.length >= 1);
    writeFrame(arena, 0, picture);
    const shot = await pending;
    expect(shot).not.toBeNull();
    expect(shot!.frameNo).toBe(1);
    expect([shot!.width, shot!.height]).toEqual([224, 224]);
    expect(Buffer.from(shot!.rgb).equals(Buffer.from(picture.rgb))).toBe(true);
    // The copy is the caller's: the ring slot is free again once inferred.
    await run.finished;
    expect(shot!.transform.sourceWidth).toBe(picture.width);
    expect(noSlotHeld(arena)).toBe(true);
  });

  it('answers predictImage on a JPEG and passes bad images on as ImageInputError', async () => {
    const model = await loadModel('mobilenet_v2_int8');
    engine = await InferenceEngine.create({ model, engine: engineConfig(), postprocess, arena: arenaFor(model, 1), maxImagePixels: 40_000_000 });
    const jpeg = await readFile(await fixturePath('coco', '000000000885.jpg'));
    const answer = await engine.predictImage(jpeg);
    expect(answer.model).toBe('mobilenet_v2_int8');
    expect(answer.predictions[0]!.label).toBe('racket');
    expect(answer.predictions).toHaveLength(3);
    const picture = await cocoPicture('000000000885.jpg', model.spec.input);
    expect([answer.width, answer.height]).toEqual([picture.width, picture.height]);
    const err = await engine.predictImage(Buffer.from('definitely not an image')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageInputError);
    expect((err as ImageInputError).status).toBe(415);
  });

  it('bounds still images waiting for the pool: past the limit it answers busy (503) at once', async () => {
    const model = await loadModel('mobilenet_v2_int8');
    engine = await InferenceEngine.create({ model, engine: engineConfig({ pool_size: 1 }), postprocess, arena: arenaFor(model, 1), maxImagePixels: 40_000_000 });
    const jpeg = await readFile(await fixturePath('coco', '000000000776.jpg'));
    // Pool of one: at most 8 images wait; the rest are turned away.
    const answers = await Promise.allSettled(Array.from({ length: 11 }, () => engine!.predictImage(jpeg)));
    const ok = answers.filter((a) => a.status === 'fulfilled');
    const busy = answers.filter((a): a is PromiseRejectedResult => a.status === 'rejected');
    expect(ok).toHaveLength(8);
    expect(busy).toHaveLength(3);
    for (const b of busy) expect(b.reason).toMatchObject({ name: 'EngineBusyError', status: 503 });
    for (const a of ok) expect((a as PromiseFulfilledResult<{ predictions: { label: string }[] }>).value.predictions[0]!.label).toBe('teddy');
    // Once they are answered, new images are accepted again.
    expect((await engine.predictImage(jpeg)).predictions[0]!.label).toBe('teddy');
  });

  it('replaces a crashed worker; frames in the failed batch count as inference_error and every camera keeps getting results', async () => {
    const model = await loadModel('mobilenet_v2_int8');
    const arena = arenaFor(model, 3);
    engine = await InferenceEngine.create({
      model,
      engine: engineConfig({ max_batch: 4, max_wait_ms: 1, max_frame_age_ms: 60_000 }),
      postprocess,
      arena,
      maxImagePixels: 40_000_000,
      // The worker thread exits (as a crash would) when it is handed ring 0's third frame.
      testHooks: { exitOnFrame: { ring: 0, frameNo: 3 } },
    });
    const pictures = await Promise.all(expected.map(([file]) => cocoPicture(file, model.spec.input)));
    expected.forEach((_, i) => engine!.attachCamera(`cam${i}`, i));
    const after = (all: EngineResult[], cam: string) => byCamera(all, cam).filter((r) => r.frame > 3).length;
    const run = collect(engine, (all) => [0, 1, 2].every((i) => after(all, `cam${i}`) >= 3));
    // A ring gets a new frame only once its last one was claimed, so no frame
    // (frame 3 of ring 0 included) is ever superseded before it is claimed.
    const feed = () => pictures.forEach((p, i) => arena.ring(i).hasReady() || writeFrame(arena, i, p));
    feed();
    feeder = setInterval(feed, 20);
    const results = await run.finished;
    clearInterval(feeder);
    const cam0 = byCamera(results, 'cam0');
    expect(cam0.some((r) => r.frame === 3)).toBe(false);
    expect(engine.cameraStats('cam0')!.drops.inference_error).toBeGreaterThanOrEqual(1);
    const m = engine.metrics();
    expect(m.worker_restarts).toBe(1);
    expect(m.errors).toBeGreaterThanOrEqual(1);
    expect(engine.workers.size).toBe(1);
    for (const [i, [, label]] of expected.entries()) {
      expect(byCamera(results, `cam${i}`).filter((r) => r.frame > 3).every((r) => r.predictions[0]!.label === label)).toBe(true);
    }
    await engine.close();
    expect(noSlotHeld(arena)).toBe(true);
  });
});

describe('InferenceEngine start-up checks', () => {
  it('refuses a frame arena of another geometry and nonsense batching limits', async () => {
    const model = await loadModel('mobilenet_v2_int8');
    const wrong = FrameArena.create({ width: 416, height: 416, channels: 3 }, 3, 1);
    await expect(InferenceEngine.create({ model, engine: engineConfig(), postprocess, arena: wrong, maxImagePixels: 1e7 })).rejects.toThrow(
      'frame arena is 416x416x3, model mobilenet_v2_int8 needs 224x224x3',
    );
    await expect(InferenceEngine.create({ model, engine: engineConfig({ max_batch: 0 }), postprocess, arena: arenaFor(model, 1), maxImagePixels: 1e7 })).rejects.toThrow(/max_batch/);
    await expect(InferenceEngine.create({ model, engine: engineConfig({ max_in_flight_batches: 0.5 }), postprocess, arena: arenaFor(model, 1), maxImagePixels: 1e7 })).rejects.toThrow(/max_in_flight_batches/);
  });
});

describe('InferenceEngine with yolox_nano (fixed batch of 1)', () => {
  const people: [string, boolean][] = [
    ['000000000139.jpg', true],
    ['000000000885.jpg', true],
    ['000000004134.jpg', true],
    ['000000000632.jpg', false],
    ['000000000776.jpg', false],
    ['000000002592.jpg', false],
  ];

  it('finds people per camera, with boxes in source pixels, from concurrent batch-1 tasks', async () => {
    const model = await loadModel('yolox_nano');
    expect(model.spec.input.dynamic_batch).toBe(false);
    const arena = arenaFor(model, people.length);
    engine = await InferenceEngine.create({ model, engine: engineConfig({ pool_size: 2, max_batch: 8, max_wait_ms: 5000, max_frame_age_ms: 60_000 }), postprocess, arena, maxImagePixels: 40_000_000 });
    const pictures: Picture[] = await Promise.all(people.map(([file]) => cocoPicture(file, model.spec.input)));
    people.forEach((_, i) => engine!.attachCamera(`cam${i}`, i));
    const run = collect(engine, (all) => all.length >= people.length);
    pictures.forEach((p, i) => writeFrame(arena, i, p));
    const results = await run.finished;
    for (const [i, [file, hasPerson]] of people.entries()) {
      const [r] = byCamera(results, `cam${i}`);
      const person = r!.predictions.find((p) => p.label === 'person')!.score;
      expect(r!.has_person, file).toBe(hasPerson);
      if (hasPerson) {
        expect(person, file).toBeGreaterThan(0.6);
        const boxes = r!.detections!.filter((d) => d.label === 'person');
        expect(boxes.length, file).toBeGreaterThan(0);
        for (const d of boxes) {
          expect(d.box[2]).toBeLessThanOrEqual(pictures[i]!.width);
          expect(d.box[3]).toBeLessThanOrEqual(pictures[i]!.height);
          expect(d.box[0]).toBeLessThan(d.box[2]);
        }
      } else {
        expect(person, file).toBeLessThan(0.05);
      }
    }
    // One logical batch of six frames, run as six batch-1 tasks.
    expect(engine.metrics()).toMatchObject({ batches_total: 1, mean_batch_size: 6, errors: 0 });
    expect(engine.metrics().inference_ms.count).toBe(6);
    expect(noSlotHeld(arena)).toBe(true);
  });
});
