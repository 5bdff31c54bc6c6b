/**
 * Small, strict readers for the deployment files, so ops tests check what
 * Docker, Compose, GitHub Actions and Terraform would actually see.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function repoPath(...parts: string[]): string {
  return join(ROOT, ...parts);
}

export function readRepo(path: string): string {
  return readFileSync(repoPath(path), 'utf8');
}

export function existsInRepo(path: string): boolean {
  return existsSync(repoPath(path));
}

// ------------------------------------------------------------ Dockerfile ----

export interface Instruction {
  keyword: string;
  /** Text after the keyword, continuation lines joined. */
  args: string;
  line: number;
}

export interface Stage {
  image: string;
  name: string | undefined;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with defaults. */
  globalArgs: Record<string, string>;
  stages: Stage[];
}

/** Parses a Dockerfile: comments dropped, `\` continuations joined, instructions grouped by stage. */
export function parseDockerfile(text: string): Dockerfile {
  const lines = text.split('\n');
  const instructions: Instruction[] = [];
  let pending = '';
  let start = 0;
  lines.forEach((raw, i) => {
    const line = raw.trimEnd();
    if (pending === '' && (line.trim() === '' || line.trimStart().startsWith('#'))) return;
    if (pending !== '' && line.trimStart().startsWith('#')) return; // comment inside a continuation
    if (pending === '') start = i + 1;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      return;
    }
    pending += line;
    const m = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(pending);
    if (!m) throw new Error(`line ${start}: not an instruction: ${pending}`);
    instructions.push({ keyword: (m[1] as string).toUpperCase(), args: (m[2] as string).trim(), line: start });
    pending = '';
  });
  if (pending !== '') throw new Error('dangling line continuation at end of file');

  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`line ${ins.line}: bad FROM ${ins.args}`);
      const image = (m[1] as string).replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => globalArgs[(a ?? b) as string] ?? '');
      stages.push({ image, name: m[2], instructions: [] });
    } else if (stages.length === 0) {
      if (ins.keyword !== 'ARG') throw new Error(`line ${ins.line}: ${ins.keyword} before FROM`);
      const [name, value = ''] = ins.args.split('=', 2) as [string, string?];
      globalArgs[name] = value;
    } else {
      (stages[stages.length - 1] as Stage).instructions.push(ins);
    }
  }
  return { globalArgs, stages };
}

export interface Copy {
  from: string | undefined;
  chown: string | undefined;
  sources: string[];
  dest: string;
  line: number;
}

/** COPY/ADD instructions of a stage, flags split off; JSON and plain forms. */
export function copiesOf(stage: Stage): Copy[] {
  return stage.instructions
    .filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')
    .map((i) => {
      let rest = i.args;
      const flags: Record<string, string> = {};
      for (;;) {
        const m = /^--([a-z-]+)=(\S+)\s+/.exec(rest);
        if (!m) break;
        flags[m[1] as string] = m[2] as string;
        rest = rest.slice(m[0].length);
      }
      const parts = rest.startsWith('[') ? (JSON.parse(rest) as string[]) : rest.split(/\s+/);
      if (parts.length < 2) throw new Error(`line ${i.line}: COPY needs a source and a destination`);
      return { from: flags.from, chown: flags.chown, sources: parts.slice(0, -1), dest: parts[parts.length - 1] as string, line: i.line };
    });
}

/** `ENV` values of a stage (both `K=V K2=V2` and legacy `K V` forms). */
export function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of stage.instructions.filter((x) => x.keyword === 'ENV')) {
    if (!i.args.includes('=')) {
      const [k, ...v] = i.args.split(/\s+/);
      env[k as string] = v.join(' ');
      continue;
    }
    for (const m of i.args.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
      const value = m[2] as string;
      env[m[1] as string] = value.startsWith('"') ? (JSON.parse(value) as string) : value;
    }
  }
  return env;
}

/** The last instruction of a kind in a stage (Docker uses the last CMD/ENTRYPOINT/...). */
export function lastOf(stage: Stage, keyword: string): Instruction | undefined {
  return stage.instructions.filter((i) => i.keyword === keyword).at(-1);
}

// ---------------------------------------------------------- .dockerignore ----

/** Docker's pattern syntax (Go filepath.Match plus `**`) as a RegExp for a whole path. */
function patternRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
      if (pattern[i + 1] === '/') i++;
    } else if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * Whether a context path is excluded: the last matching pattern wins, and a
 * pattern that matches a parent directory matches everything below it.
 */
export function dockerignoreExcludes(ignoreText: string, path: string): boolean {
  const rules = ignoreText
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const body = (negate ? l.slice(1) : l).replace(/^\/+/, '').replace(/\/+$/, '');
      return { negate, re: patternRegExp(body) };
    });
  const parts = path.replace(/^\.\//, '').replace(/\/+$/, '').split('/');
  let excluded = false;
  for (const rule of rules) {
    let hit = false;
    for (let n = 1; n <= parts.length && !hit; n++) hit = rule.re.test(parts.slice(0, n).join('/'));
    if (hit) excluded = !rule.negate;
  }
  return excluded;
}

// -------------------------------------------------------------- Terraform ----

export function terraformFiles(): string[] {
  return readdirSync(repoPath('infra'))
    .filter((f) => f.endsWith('.tf'))
    .sort();
}

/** Every string in a parsed HCL JSON tree, with the key path it sits under. */
export function* stringsIn(node: unknown, path: string[] = []): Generator<{ value: string; path: string[] }> {
  if (typeof node === 'string') yield { value: node, path };
  else if (Array.isArray(node)) for (const item of node) yield* stringsIn(item, path);
  else if (typeof node === 'object' && node !== null) {
    for (const [k, v] of Object.entries(node)) yield* stringsIn(v, [...path, k]);
  }
}
