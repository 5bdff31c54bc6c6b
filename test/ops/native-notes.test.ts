import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT, existsInRepo, readRepo } from './support.js';

const NOTES = ['uwebsockets.md', 'onnxruntime-node.md', 'sharp.md', 'ffmpeg.md', 'tfjs-node-gpu.md', 'node-version.md'];

/** Command lines of the first fenced block under "## How to check" (comments and `# →` outputs dropped). */
function checkCommands(note: string): string[] {
  const text = readRepo(`native-notes/${note}`);
  const section = text.split(/^## How to check\s*$/m)[1];
  if (section === undefined) return [];
  const block = /```(?:sh|bash)?\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

describe('native-notes/', () => {
  it.each(NOTES)('%s has a "How to check" section with commands', (note) => {
    expect(existsInRepo(`native-notes/${note}`)).toBe(true);
    expect(checkCommands(note).length).toBeGreaterThan(0);
  });

  it('indexes every note', () => {
    const index = readRepo('native-notes/README.md');
    for (const note of NOTES) expect(index).toContain(`(${note})`);
  });

  // The first check of these notes must hold on any supported machine, CI included.
  it.each([
    ['uwebsockets.md', /native uWS ok for ABI 115/],
    ['sharp.md', /sharp \d+\.\d+\.\d+ libvips \d+\.\d+/],
    ['ffmpeg.md', /ffmpeg version [5-9]\./],
  ])('the first check in %s passes here', (note, expected) => {
    const cmd = checkCommands(note)[0]!;
    const run = spawnSync('sh', ['-c', cmd], { cwd: ROOT, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(expected);
  });
});
