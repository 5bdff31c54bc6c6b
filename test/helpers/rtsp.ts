/**
 * The real GStreamer RTSP test server (test/tools/rtsp_server.py) on
 * 127.0.0.1 and a free port. Spawned directly (not via a shell) so that its
 * pid is the server's own, which kill -9 / -STOP / -CONT tests rely on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

// Our own server script (test/tools), so the suite also runs where ../shared does not exist.
const SCRIPT = fileURLToPath(new URL('../tools/rtsp_server.py', import.meta.url));
// The python3 first on PATH here cannot import gi.
const PYTHON = '/usr/bin/python3';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export class RtspTestServer {
  private child: ChildProcess | null = null;

  private constructor(
    readonly port: number,
    private readonly args: string[],
  ) {}

  /** Starts a server: mode `test` with a size like 640x480, or `file` with an absolute path. */
  static async start(mode: 'test' | 'file', arg: string, port?: number): Promise<RtspTestServer> {
    const server = new RtspTestServer(port ?? (await freePort()), [mode, arg]);
    await server.restart();
    return server;
  }

  get url(): string {
    return `rtsp://127.0.0.1:${this.port}/live`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** (Re)starts on the same port; resolves once it prints READY. */
  async restart(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) throw new Error('RTSP server is already running');
    const child = spawn(PYTHON, [SCRIPT, String(this.port), ...this.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      let err = '';
      const timer = setTimeout(() => fail(new Error(`RTSP server did not print READY in 10 s: ${err}`)), 10_000);
      const fail = (e: Error): void => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(e);
      };
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('READY')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
      child.once('exit', (code) => fail(new Error(`RTSP server exited with ${code} before READY: ${err}`)));
    });
  }

  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /** kill -9 and wait until it is gone (the port can be bound again at once). */
  async kill9(): Promise<void> {
    await this.stopWith('SIGKILL');
  }

  async stop(): Promise<void> {
    // A stopped (-STOP) server cannot handle SIGTERM: continue it first.
    this.child?.kill('SIGCONT');
    await this.stopWith('SIGTERM', 3000);
  }

  private async stopWith(signal: NodeJS.Signals, graceMs = 0): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = graceMs > 0 ? setTimeout(() => child.kill('SIGKILL'), graceMs) : null;
    await exited;
    if (timer) clearTimeout(timer);
  }
}
