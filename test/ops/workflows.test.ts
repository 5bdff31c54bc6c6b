import { parse as parseHcl } from '@cdktf/hcl2json';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { existsInRepo, readRepo } from './support.js';

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  id?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  'runs-on'?: string;
  container?: { image: string } | string;
  needs?: string | string[];
  uses?: string;
  steps?: Step[];
  env?: Record<string, string>;
}
interface Workflow {
  name: string;
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  env?: Record<string, string>;
  jobs: Record<string, Job>;
}

function load(path: string): { text: string; wf: Workflow } {
  const text = readRepo(path);
  return { text, wf: parse(text) as Workflow };
}

const SECRETS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION', 'ECR_REPOSITORY', 'ECS_CLUSTER', 'ECS_SERVICE'];
const pkg = JSON.parse(readRepo('package.json')) as { scripts: Record<string, string> };

function allSteps(wf: Workflow): Step[] {
  return Object.values(wf.jobs).flatMap((j) => j.steps ?? []);
}

function runText(wf: Workflow): string {
  return allSteps(wf)
    .map((s) => s.run ?? '')
    .join('\n');
}

describe.each(['.github/workflows/ci.yml', '.github/workflows/deploy.yml'])('%s', (path) => {
  const { text, wf } = load(path);

  it('parses and has jobs with pinned action versions', () => {
    expect(typeof wf.name).toBe('string');
    expect(Object.keys(wf.jobs).length).toBeGreaterThan(0);
    for (const step of allSteps(wf)) {
      if (step.uses && !step.uses.startsWith('./')) expect(step.uses, 'actions are pinned to a version').toMatch(/@v?\d/);
    }
    expect(text).not.toMatch(/\t/);
  });

  it('runs only npm scripts that exist', () => {
    for (const m of runText(wf).matchAll(/npm run ([\w:.-]+)/g)) expect(pkg.scripts[m[1] as string], m[0]).toBeDefined();
    if (/\bnpm test\b/.test(runText(wf))) expect(pkg.scripts.test).toBeDefined();
  });

  it('references only secrets from the documented set', () => {
    for (const m of text.matchAll(/secrets\.([A-Z0-9_]+)/g)) expect(SECRETS, m[0]).toContain(m[1]);
  });
});

describe('ci.yml', () => {
  const { wf } = load('.github/workflows/ci.yml');
  const job = wf.jobs.test!;
  const steps = job.steps!;
  const runs = runText(wf);

  it('runs on pull requests, pushes, and when deploy calls it', () => {
    expect(wf.on).toHaveProperty('pull_request');
    expect(wf.on).toHaveProperty('push');
    expect(wf.on).toHaveProperty('workflow_call');
    expect(wf.permissions).toEqual({ contents: 'read' });
  });

  it('uses Node 20 on Debian 12 with ffmpeg, the GStreamer RTSP server and Chromium', () => {
    const image = typeof job.container === 'string' ? job.container : job.container?.image;
    expect(image).toMatch(/^node:20-bookworm/);
    for (const pkgName of ['ffmpeg', 'gir1.2-gst-rtsp-server-1.0', 'python3-gi', 'gstreamer1.0-plugins-good', 'gstreamer1.0-plugins-bad', 'gstreamer1.0-plugins-ugly', 'chromium']) {
      expect(runs, pkgName).toContain(pkgName);
    }
  });

  it('installs, typechecks, lints, tests and smoke-runs a benchmark, in that order', () => {
    const order = ['npm ci', 'npm run typecheck', 'npm run lint', 'npm test', 'npm run bench:'].map((cmd) => steps.findIndex((s) => s.run?.includes(cmd)));
    for (const i of order) expect(i).toBeGreaterThanOrEqual(0);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    // Short: only flags the benchmark knows, and a one-second round.
    const bench = steps[order[4]!]!.run!;
    const script = /npm run (bench:[\w-]+)/.exec(bench)![1]!;
    const source = readRepo(pkg.scripts[script]!.split(' ').at(-1)!);
    for (const m of bench.matchAll(/--([a-z-]+) /g)) expect(source, `--${m[1]}`).toContain(`${m[1]!.replace(/-/g, '_')}:`);
    expect(bench).toMatch(/--seconds 1\b/);
  });

  it('caches .cache/ (fetched models and fixtures) between runs', () => {
    const cache = steps.find((s) => s.uses?.startsWith('actions/cache@') && s.with?.path === '.cache');
    expect(cache).toBeDefined();
    expect(String(cache!.with!.key)).toContain("hashFiles('models/manifest.yaml'");
    expect(existsInRepo('models/manifest.yaml')).toBe(true);
  });

  it('keeps the onnxruntime CUDA download off', () => {
    expect(job.env?.ONNXRUNTIME_NODE_INSTALL).toBe('skip');
  });
});

describe('deploy.yml', () => {
  const { text, wf } = load('.github/workflows/deploy.yml');
  const deploy = wf.jobs.deploy!;
  const steps = deploy.steps!;
  const step = (prefix: string): Step => {
    const s = steps.find((x) => x.uses?.startsWith(prefix));
    expect(s, prefix).toBeDefined();
    return s!;
  };

  it('deploys pushes to main, after CI passes', () => {
    expect(wf.on.push).toEqual({ branches: ['main'] });
    expect(wf.jobs.ci!.uses).toBe('./.github/workflows/ci.yml');
    expect(deploy.needs).toBe('ci');
  });

  it('uses all six deployment secrets', () => {
    for (const s of SECRETS) expect(text, s).toContain(`secrets.${s}`);
  });

  it('logs in with the access keys and documents OIDC as the better way', () => {
    const creds = step('aws-actions/configure-aws-credentials@');
    expect(creds.with).toMatchObject({
      'aws-access-key-id': '${{ secrets.AWS_ACCESS_KEY_ID }}',
      'aws-secret-access-key': '${{ secrets.AWS_SECRET_ACCESS_KEY }}',
      'aws-region': '${{ secrets.AWS_REGION }}',
    });
    expect(text).toMatch(/#.*role-to-assume/);
    expect(text).toMatch(/#.*id-token: write/);
  });

  it('builds the Dockerfile, pushes to ECR, renders the task definition with that image and waits for stability', () => {
    step('aws-actions/amazon-ecr-login@');
    const build = step('docker/build-push-action@');
    expect(build.with?.file).toBe('Dockerfile');
    expect(build.with?.push).toBe(true);
    const imageRef = '${{ steps.image.outputs.ref }}';
    expect(String(build.with?.tags)).toContain(imageRef);
    const render = step('aws-actions/amazon-ecs-render-task-definition@');
    expect(render.with?.image).toBe(imageRef);
    const renderIndex = steps.indexOf(render);
    const ecsDeploy = step('aws-actions/amazon-ecs-deploy-task-definition@');
    expect(steps.indexOf(ecsDeploy)).toBeGreaterThan(renderIndex);
    expect(ecsDeploy.with).toMatchObject({
      'task-definition': `\${{ steps.${render.id}.outputs.task-definition }}`,
      cluster: '${{ secrets.ECS_CLUSTER }}',
      service: '${{ secrets.ECS_SERVICE }}',
      'wait-for-service-stability': true,
    });
  });

  it('renders into the container name the Terraform task definition uses', async () => {
    const main = (await parseHcl('main.tf', readRepo('infra/main.tf'))) as { locals: Record<string, unknown>[] };
    const containerName = main.locals.find((l) => 'container_name' in l)!.container_name;
    const render = step('aws-actions/amazon-ecs-render-task-definition@');
    expect(render.with?.['container-name']).toBe('${{ env.CONTAINER_NAME }}');
    expect(wf.env?.CONTAINER_NAME).toBe(containerName);
  });
});
