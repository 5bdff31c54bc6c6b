/**
 * The README's "Code layout" table says, per folder of src/, which folders
 * of ours it imports. This reads every import in src/ and fails when the
 * table and the code disagree, so the table stays a true map.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const src = join(root, 'src');
const folders = readdirSync(src, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Folders of ours that files in `folder` import (static imports and re-exports). */
function importedFolders(folder: string): string[] {
  const found = new Set<string>();
  for (const file of filesUnder(join(src, folder))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/\bfrom '((?:\.\.\/)+)([a-z-]+)\//g)) {
      // Climbing one level per directory below src/ lands in src/: the next name is a folder of ours.
      const depth = file.slice(src.length + 1).split('/').length - 1;
      if (m[1]!.length / 3 === depth && m[2] !== folder) found.add(m[2]!);
    }
  }
  return [...found].sort();
}

function readmeTable(): Map<string, string> {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Code layout'), readme.indexOf('\n## ', readme.indexOf('## Code layout') + 1));
  const rows = new Map<string, string>();
  for (const m of section.matchAll(/^\| `([a-z-]+)` \| [^|]+ \| ([^|]+) \|$/gm)) rows.set(m[1]!, m[2]!.trim());
  return rows;
}

describe('README code layout', () => {
  const table = readmeTable();

  it('has one line per folder of src/', () => {
    expect([...table.keys()].sort()).toEqual(folders);
  });

  it.each(folders.filter((f) => f !== 'app'))('says what %s imports', (folder) => {
    const cell = table.get(folder) ?? '';
    const listed = cell === 'nothing of ours' ? [] : cell.replace(/\(.*\)/, '').split(',').map((s) => s.trim()).filter(Boolean).sort();
    expect(listed).toEqual(importedFolders(folder));
  });
});
