import { readFileSync } from 'node:fs';

/** package.json's version; the file sits two levels above both src/app and dist/app. */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
