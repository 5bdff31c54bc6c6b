import { describe, expect, it } from 'vitest';
import { fairShares, RateController, type RateCamera, type RateObservation } from '../../src/ingest/rate-control.js';

const cams = (n: number, fps = 25, weight = 1): RateCamera[] => Array.from({ length: n }, (_, i) => ({ id: `c${i}`, configuredFps: fps, weight }));
const overload = (inferred: number, offered: number): RateObservation => ({ inferredPerS: inferred, offeredPerS: offered, droppedPerS: offered - inferred });
const calm = (offered: number): RateObservation => ({ inferredPerS: offered, offeredPerS: offered, droppedPerS: 0 });

/** Drives the controller once per second from t0 to t1 (inclusive) with one observation. */
function drive(rc: RateController, cameras: RateCamera[], t0: number, t1: number, seen: RateObservation) {
  const changes = [];
  for (let t = t0; t <= t1; t++) changes.push(...rc.update(t, cameras, seen).map((d) => ({ t, ...d })));
  return changes;
}

describe('fairShares', () => {
  it('splits the budget by weight and never gives a camera more than it asks for', () => {
    const shares = fairShares([
      { id: 'a', configuredFps: 25, weight: 1 },
      { id: 'b', configuredFps: 25, weight: 3 },
      { id: 'c', configuredFps: 2, weight: 1 },
    ], 42);
    expect(shares.get('c')).toBe(2);
    // b's weighted share (30) is more than it asks for: it gets 25, and a what b left.
    expect(shares.get('b')).toBe(25);
    expect(shares.get('a')).toBeCloseTo(15);
  });

  it('keeps every camera at its configured rate when the budget covers all', () => {
    expect([...fairShares(cams(4, 5), 100).values()]).toEqual([5, 5, 5, 5]);
  });
});

describe('RateController hysteresis (driven clock)', () => {
  it('lowers rates to the fair share only after overload lasts sustain_s; one burst is not enough', () => {
    const rc = new RateController({ sustain_s: 3, min_change_interval_s: 10, target_utilization: 0.9 });
    const cameras = cams(16);
    // One second of heavy drops among calm ones: nothing moves.
    expect(drive(rc, cameras, 0, 1, calm(400))).toEqual([]);
    expect(drive(rc, cameras, 2, 2, overload(200, 400))).toEqual([]);
    expect(drive(rc, cameras, 3, 4, calm(400))).toEqual([]);
    // Overload from t=5: at t=5 one tick of three is overloaded, at t=6 two are: the cut.
    expect(drive(rc, cameras, 5, 5, overload(200, 400))).toEqual([]);
    const cut = drive(rc, cameras, 6, 6, overload(200, 400));
    expect(cut).toHaveLength(16);
    for (const d of cut) expect(d).toMatchObject({ fps: 11.25, reason: 'overload' });
    expect(rc.changes).toBe(16);
  });

  it('changes at most once per min_change_interval_s, then recovers after sustained spare capacity', () => {
    const rc = new RateController({ sustain_s: 3, min_change_interval_s: 10, raise_factor: 1.25 });
    const cameras = cams(4, 20);
    const first = drive(rc, cameras, 0, 3, overload(40, 80));
    expect(first.map((d) => d.t)).toEqual([3, 3, 3, 3]);
    expect(rc.rateOf(cameras[0] as RateCamera).fps).toBe(9);
    // Still overloaded at the new rate (the engine keeps what the cut handed out, but still drops): no change before t=13.
    expect(drive(rc, cameras, 4, 12, overload(34, 36))).toEqual([]);
    const second = drive(rc, cameras, 13, 13, overload(34, 36));
    expect(second.map((d) => d.fps)).toEqual([7.65, 7.65, 7.65, 7.65]);
    // Capacity returns: calm for sustain_s, and after the interval, rates rise step by step.
    const up = drive(rc, cameras, 14, 120, calm(30));
    expect(up[0]?.t).toBe(23);
    expect(up[0]).toMatchObject({ fps: 9.56, reason: 'recovering' });
    const times = [...new Set(up.map((d) => d.t))];
    for (let i = 1; i < times.length; i++) expect((times[i] as number) - (times[i - 1] as number)).toBeGreaterThanOrEqual(10);
    // Raised until the configured rate is reached again, then left alone.
    expect(rc.rateOf(cameras[0] as RateCamera)).toEqual({ id: 'c0', fps: 20, reason: 'configured' });
    expect(drive(rc, cameras, 121, 200, calm(80))).toEqual([]);
  });

  it('undoes a cut after which the engine infers less while the drops go on, and holds off cutting for a while', () => {
    const rc = new RateController({ sustain_s: 3, min_change_interval_s: 10 });
    const cameras = cams(4, 20);
    expect(drive(rc, cameras, 0, 3, overload(40, 80)).map((d) => d.fps)).toEqual([9, 9, 9, 9]);
    // Decode-bound: the lower rates only removed frames; the drops (stale, superseded) go on and inferred/s falls.
    expect(drive(rc, cameras, 4, 12, overload(15, 30))).toEqual([]);
    const undo = drive(rc, cameras, 13, 13, overload(15, 30));
    expect(undo).toEqual([0, 1, 2, 3].map((i) => ({ t: 13, id: `c${i}`, fps: 20, reason: 'configured' })));
    expect(rc.undoneCuts).toBe(1);
    // Overloaded again at the old rates: no cut for six change intervals (60 s), then the controller may try again.
    expect(drive(rc, cameras, 14, 72, overload(40, 80))).toEqual([]);
    expect(drive(rc, cameras, 73, 73, overload(40, 80)).map((d) => d.fps)).toEqual([9, 9, 9, 9]);
  });

  it('gives heavier cameras more under overload', () => {
    const rc = new RateController({ sustain_s: 1, min_change_interval_s: 1, target_utilization: 1 });
    const cameras: RateCamera[] = [{ id: 'lobby', configuredFps: 25, weight: 1 }, { id: 'gate', configuredFps: 25, weight: 4 }];
    drive(rc, cameras, 0, 1, overload(20, 50));
    expect(rc.rateOf(cameras[0] as RateCamera).fps).toBe(4);
    expect(rc.rateOf(cameras[1] as RateCamera).fps).toBe(16);
  });

  it('never goes below min_fps and forgets removed cameras', () => {
    const rc = new RateController({ sustain_s: 1, min_change_interval_s: 1, min_fps: 0.5 });
    const cameras = cams(100, 5);
    drive(rc, cameras, 0, 1, overload(10, 500));
    expect(rc.rateOf(cameras[0] as RateCamera).fps).toBe(0.5);
    rc.update(2, cameras.slice(0, 1), calm(0.5));
    expect(rc.rateOf(cameras[1] as RateCamera)).toEqual({ id: 'c1', fps: 5, reason: 'configured' });
  });
});

describe('inactive cameras', () => {
  it('keep their rate and take no share while they deliver nothing', () => {
    const rc = new RateController({ sustain_s: 1, min_change_interval_s: 1, target_utilization: 1 });
    const cameras: RateCamera[] = [{ id: 'up', configuredFps: 25, weight: 1 }, { id: 'down', configuredFps: 25, weight: 1, active: false }];
    drive(rc, cameras, 0, 1, overload(10, 25));
    expect(rc.rateOf(cameras[0] as RateCamera).fps).toBe(10);
    expect(rc.rateOf(cameras[1] as RateCamera)).toMatchObject({ fps: 25, reason: 'configured' });
  });
});

describe('capacity is measured per second of busy workers', () => {
  it('does not read seconds in which the workers idled (cameras restarting) as lost capacity', () => {
    const settings = { sustain_s: 2, min_change_interval_s: 5, target_utilization: 0.9 };
    const halfIdle = new RateController(settings);
    const unknown = new RateController(settings);
    const cameras = cams(16);
    // 100 inferred/s with drops, the workers busy half of the time: it could do 200.
    drive(halfIdle, cameras, 0, 2, { ...overload(100, 400), engineBusy: 0.5 });
    drive(unknown, cameras, 0, 2, overload(100, 400));
    expect(halfIdle.rateOf(cameras[0] as RateCamera).fps).toBe(11.25);
    expect(unknown.rateOf(cameras[0] as RateCamera).fps).toBe(5.63);
    // A nearly idle second says too little to scale: taken as it is.
    const idle = new RateController(settings);
    drive(idle, cameras, 0, 2, { ...overload(100, 400), engineBusy: 0.1 });
    expect(idle.rateOf(cameras[0] as RateCamera).fps).toBe(5.63);
  });
});

describe('spare capacity means idle workers, not only no drops', () => {
  it('holds a cut rate while the workers stay busy, and raises it once they idle', () => {
    const rc = new RateController({ sustain_s: 1, min_change_interval_s: 2, spare_utilization: 0.75, raise_factor: 2 });
    const cameras = cams(2, 10);
    drive(rc, cameras, 0, 1, overload(10, 20));
    expect(rc.rateOf(cameras[0] as RateCamera).fps).toBe(4.5);
    // Rates just under capacity: no drops, but the workers are busy 90 % of the time.
    expect(drive(rc, cameras, 2, 30, { ...calm(9), engineBusy: 0.9 })).toEqual([]);
    // Capacity returns (the workers now idle half the time): raised.
    const up = drive(rc, cameras, 31, 32, { ...calm(9), engineBusy: 0.5 });
    expect(up.map((d) => d.fps)).toEqual([9, 9]);
  });
});
