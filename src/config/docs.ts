/**
 * The configuration's documentation, derived from the schema: the text of
 * `config.example.yaml` and the README's variable table. `npm run docs:config`
 * writes them; test/config/drift.test.ts fails when the files differ.
 */
import type { TObject, TSchema } from '@sinclair/typebox';
import { stringify } from 'yaml';
import { AppConfigSchema, schemaKeys, type KeyAnnotations } from './schema.js';

type Node = TSchema & KeyAnnotations;

const COMMENT_COLUMN = 32;

const EXAMPLE_HEADER = `# stream-ml-service configuration. Every key is shown with its default.
# Generated from src/config/schema.ts by \`npm run docs:config\`: edit the schema, not this file.
# Load order: these defaults ← this file (path in APP_CONFIG_PATH) ← APP_* variables.
# An invalid value stops start-up with one line naming the key, the value and what is allowed.
`;

/** One line of YAML: lists in flow style (`[rtsp, rtsps]`) so they sit beside their key. */
function scalar(value: unknown): string {
  return stringify(value, { collectionStyle: 'flow' }).trimEnd();
}

function comment(node: Node): string {
  const text = [node.env, node.description].filter(Boolean).join(': ');
  return text ? `# ${text}` : '';
}

function line(text: string, note: string): string {
  if (!note) return text;
  return `${text.padEnd(COMMENT_COLUMN - 1)} ${note}`;
}

function yamlLines(node: Node, key: string, indent: string): string[] {
  const properties = (node as TObject).properties as Record<string, Node> | undefined;
  if (node.type === 'object' && properties) {
    return [`${indent}${key}:`, ...Object.entries(properties).flatMap(([k, child]) => yamlLines(child, k, `${indent}  `))];
  }
  const value = node.default;
  if (node.type === 'object') {
    // A record (aliases): its default entries, one a line.
    const entries = Object.entries(value as Record<string, unknown>).map(([k, v]) => `${indent}  ${k}: ${scalar(v)}`);
    return [line(`${indent}${key}:`, comment(node)), ...entries];
  }
  const own = line(`${indent}${key}: ${scalar(value)}`, comment(node));
  const example = node.example_yaml ? node.example_yaml.split('\n').map((l) => `${indent}# ${l}`) : [];
  return [own, ...example];
}

/** The full text of config.example.yaml. */
export function exampleYaml(): string {
  const sections = Object.entries(AppConfigSchema.properties).map(([key, node]) => yamlLines(node, key, '').join('\n'));
  return `${EXAMPLE_HEADER}\n${sections.join('\n\n')}\n`;
}

function cell(value: unknown): string {
  const empty = value === '' || value === undefined || (Array.isArray(value) && value.length === 0);
  return empty ? '–' : `\`${String(value)}\``;
}

/** Markdown table text: a `|` would end the cell. */
function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** The README table of APP_* variables (between the config-table markers). */
export function readmeTable(): string {
  const rows = schemaKeys()
    .filter((k) => k.schema.env)
    .map((k) => `| \`${k.schema.env}\` | \`${k.path}\` | ${cell(k.schema.default)} | ${escapeCell(k.schema.description ?? '')} |`);
  return ['| variable | key | default | meaning |', '| --- | --- | --- | --- |', '| `APP_CONFIG_PATH` | – | – | YAML file to load |', ...rows].join('\n');
}

export const README_TABLE_START = '<!-- config-table: generated from src/config/schema.ts by `npm run docs:config` -->';
export const README_TABLE_END = '<!-- /config-table -->';

/** `readme` with the text between the markers replaced by the generated table. */
export function withReadmeTable(readme: string): string {
  const start = readme.indexOf(README_TABLE_START);
  const end = readme.indexOf(README_TABLE_END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${README_TABLE_START} … ${README_TABLE_END} block`);
  return `${readme.slice(0, start + README_TABLE_START.length)}\n${readmeTable()}\n${readme.slice(end)}`;
}
