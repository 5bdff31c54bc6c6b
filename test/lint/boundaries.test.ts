/**
 * The module-boundary rule in eslint.config.js fails on forbidden imports.
 * Each fixture is linted through ESLint's Node API as if it lived at the
 * given path in src/, with the project's own config.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const eslint = new ESLint({ cwd: repoRoot });

async function restrictedImports(fixture: string, lintedAs: string): Promise<string[]> {
  const code = readFileSync(new URL(`./fixtures/${fixture}`, import.meta.url), 'utf8');
  const [result] = await eslint.lintText(code, { filePath: `${repoRoot}${lintedAs}` });
  const messages = result?.messages ?? [];
  const fatal = messages.filter((m) => m.fatal);
  expect(fatal).toEqual([]);
  return messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('module boundaries lint rule', () => {
  it.each([
    ['frames-imports-contracts.ts.fixture', 'src/frames/bad.ts', 1],
    ['ingest-imports-engine.ts.fixture', 'src/ingest/bad.ts', 1],
    ['engine-imports-api.ts.fixture', 'src/engine/bad.ts', 1],
    ['models-imports-engine.ts.fixture', 'src/models/postprocess/bad.ts', 1],
    ['config-imports-telemetry.ts.fixture', 'src/config/bad.ts', 1],
    ['telemetry-imports-api-engine-ingest.ts.fixture', 'src/telemetry/bad.ts', 3],
    ['cluster-imports-ingest-app.ts.fixture', 'src/cluster/bad.ts', 2],
  ])('%s linted as %s reports %i forbidden import(s)', async (fixture, lintedAs, count) => {
    const messages = await restrictedImports(fixture, lintedAs);
    expect(messages).toHaveLength(count);
  });

  it('allows what the layout allows', async () => {
    expect(await restrictedImports('engine-allowed.ts.fixture', 'src/engine/fine.ts')).toEqual([]);
  });

  it('names the rule that was broken', async () => {
    const [message] = await restrictedImports('ingest-imports-engine.ts.fixture', 'src/ingest/bad.ts');
    expect(message).toContain('must not import src/engine');
  });
});
