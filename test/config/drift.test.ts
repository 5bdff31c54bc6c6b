/**
 * config.example.yaml and the README table are generated from the schema
 * (npm run docs:config). These fail when either was edited by hand or the
 * schema changed without regenerating them.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { README_TABLE_START, exampleYaml, readmeTable, withReadmeTable } from '../../src/config/docs.js';
import { ENV_KEYS, defaultConfig, schemaKeys, type EnvName } from '../../src/config/schema.js';
import { renderConfigDocs } from '../../tools/config-docs/generate.js';

describe('configuration documents derived from the schema', () => {
  it.each(renderConfigDocs())('%s matches the schema (run npm run docs:config)', (path, expected) => {
    expect(readFileSync(path, 'utf8')).toBe(expected);
  });

  it('the example file parses to exactly the defaults', () => {
    expect(parse(exampleYaml())).toEqual(defaultConfig());
  });

  it('the README table has one row per variable, with its key', () => {
    const table = readmeTable();
    for (const [name, key] of Object.entries(ENV_KEYS)) expect(table).toContain(`| \`${name}\` | \`${key}\` |`);
    expect(table.split('\n')).toHaveLength(Object.keys(ENV_KEYS).length + 3);
  });

  it('notices a stale table', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const stale = readme.replace('| `APP_PORT` |', '| `APP_PORTX` |');
    expect(stale).not.toBe(readme);
    expect(withReadmeTable(stale)).toBe(readme);
    expect(readme).toContain(README_TABLE_START);
  });

  it('every key has a description and every env name is unique', () => {
    const keys = schemaKeys();
    expect(keys.filter((k) => !k.schema.description).map((k) => k.path)).toEqual([]);
    const names = keys.flatMap((k) => (k.schema.env ? [k.schema.env] : []));
    expect(new Set(names).size).toBe(names.length);
  });

  it('env names are a type: a misspelt one does not compile (npm run typecheck)', () => {
    const known: EnvName = 'APP_PORT';
    // @ts-expect-error misspelt on purpose
    const misspelt: EnvName = 'APP_PROT';
    expect(ENV_KEYS[known]).toBe('server.port');
    expect(ENV_KEYS[misspelt]).toBeUndefined();
  });
});
