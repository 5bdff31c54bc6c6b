import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';

const ROOT = new URL('../..', import.meta.url).pathname;

function yamlWithCameras(n: number, extra = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  const path = join(dir, 'config.yaml');
  const cameras = Array.from({ length: n }, (_, i) => `  - { id: cam${i}, url: "lavfi:testsrc2=size=320x240:rate=5" }`).join('\n');
  writeFileSync(path, `${extra}cameras:\n${cameras}\n`);
  return path;
}

describe('camera count limit', () => {
  it('a YAML listing more cameras than streams.max_cameras fails at start with one line, before anything starts', () => {
    const path = yamlWithCameras(24, 'streams:\n  max_cameras: 16\n');
    expect(() => loadConfig({ env: { APP_CONFIG_PATH: path } })).toThrow(ConfigError);
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: { ...process.env, APP_CONFIG_PATH: path, APP_PORT: '0' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).toBe(2);
    const lines = run.stderr.trim().split('\n').filter((l) => !l.startsWith('npm warn'));
    expect(lines).toEqual(['config error: config: cameras lists 24 cameras but streams.max_cameras = 16; allowed: at most streams.max_cameras cameras (raise it to start them all)']);
    expect(run.stdout).not.toMatch(/camera state|listening/);
  });

  it('a raised limit starts them all, and the per-camera keys are checked', () => {
    expect(loadConfig({ env: { APP_CONFIG_PATH: yamlWithCameras(24, 'streams:\n  max_cameras: 24\n') } }).cameras).toHaveLength(24);
    const path = yamlWithCameras(1, '');
    writeFileSync(path, 'cameras:\n  - { id: a, url: x.mp4, weight: 2, decode: keyframes }\n  - { id: b, url: y.mp4 }\n');
    const [a, b] = loadConfig({ env: { APP_CONFIG_PATH: path } }).cameras;
    expect(a).toMatchObject({ weight: 2, decode: 'keyframes' });
    expect(b).not.toHaveProperty('decode');
    writeFileSync(path, 'cameras:\n  - { id: a, url: x.mp4, decode: sometimes }\n');
    expect(() => loadConfig({ env: { APP_CONFIG_PATH: path } })).toThrow(/cameras\[0\]\.decode = "sometimes" is invalid; allowed: one of auto, all, keyframes/);
    writeFileSync(path, 'streams:\n  strategy: fastest\n');
    expect(() => loadConfig({ env: { APP_CONFIG_PATH: path } })).toThrow(/streams\.strategy = "fastest" is invalid; allowed: one of adaptive, drop_latest/);
  });
});
