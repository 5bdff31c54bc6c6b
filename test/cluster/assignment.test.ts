import { describe, expect, it } from 'vitest';
import { assignCameras, type Member } from '../../src/cluster/assignment.js';

const cameras = Array.from({ length: 60 }, (_, i) => `cam-${i}`);
const members = (...ids: string[]): Member[] => ids.map((id) => ({ id, capacity: 100 }));

describe('rendezvous assignment', () => {
  it('gives every camera one owner, the same whatever the order of inputs', () => {
    const a = assignCameras(cameras, members('x', 'y', 'z'));
    const b = assignCameras([...cameras].reverse(), members('z', 'x', 'y'));
    expect(a.size).toBe(cameras.length);
    expect([...a.entries()].sort()).toEqual([...b.entries()].sort());
  });

  it('moves only the cameras of a leaving instance, and only cameras to a joining one', () => {
    const before = assignCameras(cameras, members('x', 'y', 'z'));
    const without = assignCameras(cameras, members('x', 'y'));
    for (const id of cameras) if (before.get(id) !== 'z') expect(without.get(id)).toBe(before.get(id));
    const joined = assignCameras(cameras, members('x', 'y', 'z', 'w'));
    const moved = cameras.filter((id) => joined.get(id) !== before.get(id));
    expect(moved.length).toBeGreaterThan(0);
    for (const id of moved) expect(joined.get(id)).toBe('w');
  });

  it('weights by capacity, never exceeds it, and gives a full or zero-capacity instance nothing more', () => {
    const out = assignCameras(cameras, [
      { id: 'big', capacity: 50 },
      { id: 'small', capacity: 10 },
      { id: 'none', capacity: 0 },
    ]);
    const count = (id: string): number => [...out.values()].filter((v) => v === id).length;
    expect(count('none')).toBe(0);
    expect(count('small')).toBeLessThanOrEqual(10);
    expect(count('big')).toBeLessThanOrEqual(50);
    expect(out.size).toBe(60);
    // Not enough room anywhere: the rest stay unassigned instead of overloading someone.
    expect(assignCameras(cameras, [{ id: 'only', capacity: 7 }]).size).toBe(7);
  });
});
