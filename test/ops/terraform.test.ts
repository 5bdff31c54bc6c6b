import { getReferencesInExpression, parse } from '@cdktf/hcl2json';
import { beforeAll, describe, expect, it } from 'vitest';
import { ENV_KEYS } from '../../src/config/load.js';
import { readRepo, stringsIn, terraformFiles } from './support.js';

type Json = Record<string, unknown>;
type Blocks = Record<string, Json[]>;

interface Module {
  files: Record<string, Json>;
  variables: Set<string>;
  locals: Map<string, unknown>;
  /** `type.name` → first block body. */
  resources: Map<string, Json>;
  /** `data.type.name`. */
  data: Set<string>;
  outputs: Map<string, Json>;
}

async function loadModule(): Promise<Module> {
  const mod: Module = { files: {}, variables: new Set(), locals: new Map(), resources: new Map(), data: new Set(), outputs: new Map() };
  for (const file of terraformFiles()) {
    const json = (await parse(file, readRepo(`infra/${file}`))) as Json;
    mod.files[file] = json;
    for (const name of Object.keys((json.variable as Json | undefined) ?? {})) mod.variables.add(name);
    for (const block of (json.locals as Json[] | undefined) ?? []) for (const [k, v] of Object.entries(block)) mod.locals.set(k, v);
    for (const [type, byName] of Object.entries((json.resource as Record<string, Blocks> | undefined) ?? {})) {
      for (const [name, bodies] of Object.entries(byName)) {
        if (mod.resources.has(`${type}.${name}`)) throw new Error(`${file}: resource ${type}.${name} declared twice`);
        mod.resources.set(`${type}.${name}`, bodies[0] as Json);
      }
    }
    for (const [type, byName] of Object.entries((json.data as Record<string, Blocks> | undefined) ?? {})) {
      for (const name of Object.keys(byName)) mod.data.add(`data.${type}.${name}`);
    }
    for (const [name, bodies] of Object.entries((json.output as Blocks | undefined) ?? {})) mod.outputs.set(name, bodies[0] as Json);
  }
  return mod;
}

type Ref = { kind: 'var' | 'local' | 'resource' | 'data' | 'unknown'; key: string; raw: string };

const META_ROOTS = new Set(['each', 'count', 'self', 'path', 'terraform']);

function classify(raw: string, iterators: Set<string>): Ref | null {
  const parts = raw.split('.');
  const [root, second, third] = parts;
  if (root === undefined || META_ROOTS.has(root) || iterators.has(root)) return null;
  if (root === 'var') return { kind: 'var', key: second ?? '', raw };
  if (root === 'local') return { kind: 'local', key: second ?? '', raw };
  if (root === 'data') return { kind: 'data', key: `data.${second}.${third}`, raw };
  if (/^[a-z0-9]+_[a-z0-9_]+$/.test(root) && second !== undefined) return { kind: 'resource', key: `${root}.${second}`, raw };
  return { kind: 'unknown', key: raw, raw };
}

/** Every reference in every expression of a subtree (variable `type` constraints and `ignore_changes` are not expressions). */
async function referencesIn(node: unknown, file: string): Promise<Ref[]> {
  const strings = [...stringsIn(node)];
  const iterators = new Set<string>();
  for (const { path } of strings) {
    path.forEach((segment, i) => {
      if (segment === 'dynamic' && path[i + 1]) iterators.add(path[i + 1] as string);
    });
  }
  const refs: Ref[] = [];
  for (const { value, path } of strings) {
    if (!value.includes('${')) continue;
    if (path[0] === 'variable' && path.at(-1) === 'type') continue;
    // `ignore_changes` lists attribute names of the resource itself.
    if (path.includes('ignore_changes')) continue;
    for (const r of await getReferencesInExpression(file, value)) {
      const ref = classify(r.value, iterators);
      if (ref) refs.push(ref);
    }
  }
  return refs;
}

function firstBlock(body: Json, key: string): Json {
  const v = body[key];
  expect(Array.isArray(v) && v.length > 0, `block ${key}`).toBe(true);
  return (v as Json[])[0] as Json;
}

describe('infra/ Terraform', () => {
  let mod: Module;
  let refsByFile: Record<string, Ref[]>;

  beforeAll(async () => {
    mod = await loadModule();
    refsByFile = {};
    for (const [file, json] of Object.entries(mod.files)) refsByFile[file] = await referencesIn(json, file);
  });

  it('has the expected files, each parsing as HCL', () => {
    expect(terraformFiles()).toEqual(expect.arrayContaining(['versions.tf', 'variables.tf', 'outputs.tf', 'ecs.tf', 'iam.tf', 's3.tf', 'ecr.tf', 'alb.tf', 'autoscaling.tf']));
    expect(Object.keys(mod.files).length).toBe(terraformFiles().length);
  });

  it('rejects invalid HCL (the parser is not lenient)', async () => {
    await expect(parse('bad.tf', 'resource "aws_s3_bucket" "b" { bucket = }')).rejects.toThrow();
  });

  it('declares every var.X it uses, and uses every variable it declares', () => {
    const used = new Set<string>();
    for (const [file, refs] of Object.entries(refsByFile)) {
      for (const r of refs.filter((x) => x.kind === 'var')) {
        expect(mod.variables.has(r.key), `${file}: var.${r.key} is not declared in variables.tf`).toBe(true);
        used.add(r.key);
      }
    }
    expect(used.size).toBeGreaterThan(20);
    for (const v of mod.variables) expect(used.has(v), `variable ${v} is declared but never used`).toBe(true);
  });

  it('references only declared locals, resources and data sources', () => {
    for (const [file, refs] of Object.entries(refsByFile)) {
      for (const r of refs) {
        if (r.kind === 'local') expect(mod.locals.has(r.key), `${file}: local.${r.key}`).toBe(true);
        if (r.kind === 'resource') expect(mod.resources.has(r.key), `${file}: ${r.raw} → no resource ${r.key}`).toBe(true);
        if (r.kind === 'data') expect(mod.data.has(r.key), `${file}: ${r.raw}`).toBe(true);
        expect(r.kind, `${file}: unrecognised reference ${r.raw}`).not.toBe('unknown');
      }
    }
  });

  it('has outputs that describe themselves and point at existing resources', async () => {
    expect(mod.outputs.size).toBeGreaterThanOrEqual(8);
    for (const [name, body] of mod.outputs) {
      expect(typeof body.description, `output ${name}`).toBe('string');
      const refs = await referencesIn(body.value, 'outputs.tf');
      const targets = refs.filter((r) => r.kind === 'resource' || r.kind === 'local' || r.kind === 'data');
      expect(targets.length, `output ${name} references nothing`).toBeGreaterThan(0);
      for (const r of targets) {
        const known = r.kind === 'resource' ? mod.resources.has(r.key) : r.kind === 'local' ? mod.locals.has(r.key) : mod.data.has(r.key);
        expect(known, `output ${name}: ${r.raw}`).toBe(true);
      }
    }
    for (const needed of ['ecr_repository_url', 'ecs_cluster_name', 'ecs_service_name', 'capture_bucket', 'alb_dns_name']) {
      expect(mod.outputs.has(needed), needed).toBe(true);
    }
  });

  it('pins Terraform and the AWS provider', () => {
    const tf = (mod.files['versions.tf']!.terraform as Json[])[0]!;
    expect(tf.required_version).toMatch(/>=\s*1\./);
    const providers = (tf.required_providers as Json[])[0] as Record<string, { source: string; version: string }>;
    expect(providers.aws?.source).toBe('hashicorp/aws');
    expect(providers.aws?.version).toMatch(/\d/);
  });

  it('ECR scans on push and expires old images', () => {
    const repo = mod.resources.get('aws_ecr_repository.app')!;
    expect(firstBlock(repo, 'image_scanning_configuration').scan_on_push).toBe(true);
    const lifecycle = mod.resources.get('aws_ecr_lifecycle_policy.app')!;
    expect(lifecycle.repository).toBe('${aws_ecr_repository.app.name}');
    expect(String(lifecycle.policy)).toContain('imageCountMoreThan');
  });

  it('runs a Fargate task that logs to a retained log group and gets the capture bucket in its environment', () => {
    const td = mod.resources.get('aws_ecs_task_definition.app')!;
    expect(td.requires_compatibilities).toEqual(['FARGATE']);
    expect(td.network_mode).toBe('awsvpc');
    expect(td.cpu).toBe('${var.task_cpu}');
    expect(td.memory).toBe('${var.task_memory}');
    const containers = String(td.container_definitions);
    expect(containers).toContain('awslogs');
    expect(containers).toContain('aws_cloudwatch_log_group.app.name');
    expect(containers).toContain('local.environment');
    expect(mod.resources.get('aws_cloudwatch_log_group.app')!.retention_in_days).toBe('${var.log_retention_days}');
    const env = mod.locals.get('environment') as string;
    expect(env).toContain('APP_CAPTURE_S3_BUCKET = aws_s3_bucket.captures.id');
  });

  it('passes only environment variables the service reads', () => {
    const env = mod.locals.get('environment') as string;
    const keys = [...env.matchAll(/\b(APP_[A-Z0-9_]+)\s*=/g)].map((m) => m[1] as string);
    expect(keys.length).toBeGreaterThan(5);
    for (const k of keys) expect(ENV_KEYS[k], `${k} is not in src/config/load.ts ENV_KEYS`).toBeDefined();
  });

  it('deploys with a circuit breaker that rolls back', () => {
    const svc = mod.resources.get('aws_ecs_service.app')!;
    expect(svc.launch_type).toBe('FARGATE');
    expect(firstBlock(svc, 'deployment_circuit_breaker')).toMatchObject({ enable: true, rollback: true });
    expect(String(svc.task_definition)).toContain('aws_ecs_task_definition.app');
  });

  it('lets the task role put objects only under the capture prefix', () => {
    const doc = (mod.files['iam.tf']!.data as Record<string, Blocks>).aws_iam_policy_document!.task_capture![0]!;
    const statements = doc.statement as Json[];
    expect(statements).toHaveLength(1);
    expect(statements[0]!.actions).toEqual(['s3:PutObject']);
    expect(statements[0]!.resources).toEqual(['${aws_s3_bucket.captures.arn}/${var.capture_prefix}/*']);
    expect(statements[0]!.effect ?? 'Allow').toBe('Allow');
    const policy = mod.resources.get('aws_iam_role_policy.task_capture')!;
    expect(policy.role).toBe('${aws_iam_role.task.id}');
    expect(mod.resources.get('aws_iam_role_policy_attachment.execution')!.policy_arn).toContain('AmazonECSTaskExecutionRolePolicy');
  });

  it('encrypts the capture bucket, blocks public access and expires objects', () => {
    const pab = mod.resources.get('aws_s3_bucket_public_access_block.captures')!;
    for (const k of ['block_public_acls', 'block_public_policy', 'ignore_public_acls', 'restrict_public_buckets']) expect(pab[k], k).toBe(true);
    const sse = firstBlock(mod.resources.get('aws_s3_bucket_server_side_encryption_configuration.captures')!, 'rule');
    expect(firstBlock(sse, 'apply_server_side_encryption_by_default').sse_algorithm).toMatch(/AES256|aws:kms/);
    const lifecycle = mod.resources.get('aws_s3_bucket_lifecycle_configuration.captures')!;
    expect(JSON.stringify(lifecycle)).toContain('expiration');
  });

  it('makes the load balancer optional and health-checks readiness (/health/ready)', () => {
    for (const key of ['aws_lb.app', 'aws_lb_target_group.app', 'aws_lb_listener.http', 'aws_security_group.alb']) {
      expect(String(mod.resources.get(key)!.count), key).toContain('var.enable_alb');
    }
    const hc = firstBlock(mod.resources.get('aws_lb_target_group.app')!, 'health_check');
    expect(hc.path).toBe('/health/ready');
    expect(mod.resources.get('aws_lb_target_group.app')!.target_type).toBe('ip');
  });

  it('scales on average CPU', () => {
    const policy = mod.resources.get('aws_appautoscaling_policy.cpu')!;
    expect(policy.policy_type).toBe('TargetTrackingScaling');
    const cfg = firstBlock(policy, 'target_tracking_scaling_policy_configuration');
    expect(firstBlock(cfg, 'predefined_metric_specification').predefined_metric_type).toBe('ECSServiceAverageCPUUtilization');
    expect(mod.resources.get('aws_appautoscaling_target.service')!.scalable_dimension).toBe('ecs:service:DesiredCount');
  });
});

describe('terraform: exposure', () => {
  let mod: Module;
  beforeAll(async () => {
    mod = await loadModule();
  });
  const variable = (name: string): Json => ((mod.files['variables.tf']!.variable as Blocks)[name] as Json[])[0]!;

  it('makes the ALB ingress range and the API keys secret required (no default, no 0.0.0.0/0 unless chosen)', () => {
    expect(variable('alb_ingress_cidrs')).not.toHaveProperty('default');
    expect(variable('api_keys_secret_arn')).not.toHaveProperty('default');
    const text = readRepo('infra/variables.tf') + readRepo('infra/alb.tf');
    expect(text).not.toMatch(/default\s*=\s*\[\s*"0\.0\.0\.0\/0"\s*\]/);
  });

  it('passes the keys (and the token secret) as ECS secrets, readable by the execution role only', () => {
    const secrets = String(mod.locals.get('secrets'));
    expect(secrets).toMatch(/name = "APP_API_KEYS", valueFrom = var\.api_keys_secret_arn/);
    expect(secrets).toMatch(/name = "APP_AUTH_TOKEN_SECRET", valueFrom = var\.auth_token_secret_arn/);
    const env = mod.locals.get('environment') as string;
    expect(env).not.toContain('APP_API_KEYS');
    expect(env).toContain('APP_TRUST_PROXY');
    const doc = (mod.files['iam.tf']!.data as Record<string, Blocks>).aws_iam_policy_document!.execution_secrets![0]!;
    const statement = (doc.statement as Json[])[0]!;
    expect(statement.actions).toEqual(['ssm:GetParameters', 'secretsmanager:GetSecretValue']);
    expect(statement.resources).toBe('${local.secret_arns}');
    expect(String(mod.resources.get('aws_ecs_task_definition.app')!.container_definitions)).toContain('local.secrets');
  });
});
