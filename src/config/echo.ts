/**
 * What an error message may repeat of a client's input: a short, escaped
 * prefix, so a 100 KB path or an id full of control characters comes back
 * as one readable line of bounded length.
 */
export const ECHO_MAX_CHARS = 64;

// JSON quoting escapes C0 controls, quotes and backslashes; these are the
// other characters that can break or disguise a log line.
const UNSAFE = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

/** Strings come back JSON-quoted, other values as their JSON text; either cut to `max` characters. */
export function quoteShort(value: unknown, max = ECHO_MAX_CHARS): string {
  if (typeof value !== 'string') {
    const json = (JSON.stringify(value) ?? String(value)).replace(UNSAFE, escapeChar);
    return json.length <= max ? json : `${json.slice(0, max)}… (${json.length} chars)`;
  }
  if (value.length <= max) return JSON.stringify(value).replace(UNSAFE, escapeChar);
  return `${JSON.stringify(value.slice(0, max)).replace(UNSAFE, escapeChar)}… (${value.length} chars)`;
}

function escapeChar(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}
