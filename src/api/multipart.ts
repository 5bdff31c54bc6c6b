/**
 * A small, strict multipart/form-data parser (RFC 7578 / RFC 2046) for a body
 * already held in memory (the server caps its size first). Parts are returned
 * as views into the body: no part content is copied.
 */

export type MultipartErrorCode = 'not_multipart' | 'bad_boundary' | 'malformed' | 'truncated' | 'missing_field';

export class MultipartError extends Error {
  constructor(
    readonly code: MultipartErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface MultipartPart {
  /** The `name` of the part's Content-Disposition. */
  name: string;
  filename: string | null;
  contentType: string | null;
  /** A view into the body, not a copy. */
  data: Buffer;
}

const CR = 0x0d;
const LF = 0x0a;
const DASH = 0x2d;
const SPACE = 0x20;
const TAB = 0x09;
const HEADER_END = Buffer.from('\r\n\r\n', 'latin1');
/** Part header blocks larger than this are refused, not scanned further. */
const MAX_HEADER_BYTES = 8 * 1024;
// RFC 2046 bchars, the characters a boundary may be made of.
const BOUNDARY_RE = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

/**
 * The boundary of a `multipart/form-data` content type; throws
 * MultipartError('not_multipart' | 'bad_boundary').
 */
export function boundaryFromContentType(contentType: string): string {
  const semi = contentType.indexOf(';');
  const mediaType = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (mediaType !== 'multipart/form-data') {
    throw new MultipartError('not_multipart', 'expected Content-Type multipart/form-data');
  }
  const params = semi === -1 ? new Map<string, string>() : parseParams(contentType.slice(semi + 1));
  const boundary = params.get('boundary');
  if (boundary === undefined) throw new MultipartError('bad_boundary', 'multipart/form-data without a boundary');
  if (!BOUNDARY_RE.test(boundary)) throw new MultipartError('bad_boundary', 'invalid multipart boundary');
  return boundary;
}

/** All parts of a multipart body in order; throws MultipartError on any framing fault. */
export function parseMultipart(body: Buffer, boundary: string): MultipartPart[] {
  const parts: MultipartPart[] = [];
  // "--boundary" for the first delimiter, "\r\n--boundary" between parts, so
  // boundary-like bytes inside content that lack the leading CRLF never match.
  const delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
  let pos = firstDelimiter(body, delimiter);
  for (;;) {
    // pos is just after a delimiter: "--" closes, otherwise padding then CRLF.
    if (body[pos] === DASH && body[pos + 1] === DASH) return parts;
    const headerStart = afterDelimiterLine(body, pos);
    if (headerStart < 0) throw truncatedOr(body, pos, 'malformed delimiter line');
    const headerEnd = indexOfHeaderEnd(body, headerStart);
    const contentStart = headerEnd + HEADER_END.length;
    const contentEnd = nextDelimiter(body, delimiter, contentStart);
    parts.push(partFromHeaders(body.toString('latin1', headerStart, headerEnd), body.subarray(contentStart, contentEnd)));
    pos = contentEnd + delimiter.length;
  }
}

/**
 * The part named `field` (default `file`) of a multipart/form-data body;
 * other fields are tolerated and skipped.
 */
export function findFilePart(body: Buffer, contentType: string, field = 'file'): MultipartPart {
  const parts = parseMultipart(body, boundaryFromContentType(contentType));
  for (const part of parts) if (part.name === field) return part;
  throw new MultipartError('missing_field', `multipart body has no "${field}" field`);
}

function firstDelimiter(body: Buffer, delimiter: Buffer): number {
  // The first delimiter may open the body (no CRLF before it) or follow a preamble.
  const dashBoundary = delimiter.subarray(2);
  if (body.length >= dashBoundary.length && body.compare(dashBoundary, 0, dashBoundary.length, 0, dashBoundary.length) === 0) {
    return dashBoundary.length;
  }
  const at = body.indexOf(delimiter);
  if (at < 0) throw new MultipartError(body.length === 0 ? 'truncated' : 'malformed', 'multipart body has no opening boundary');
  return at + delimiter.length;
}

/** Index after the CRLF ending a delimiter line (LWSP padding allowed), -1 when not a delimiter line. */
function afterDelimiterLine(body: Buffer, pos: number): number {
  let i = pos;
  while (i < body.length && (body[i] === SPACE || body[i] === TAB)) i++;
  if (i + 1 < body.length && body[i] === CR && body[i + 1] === LF) return i + 2;
  return -1;
}

function truncatedOr(body: Buffer, pos: number, message: string): MultipartError {
  let i = pos;
  while (i < body.length && (body[i] === SPACE || body[i] === TAB)) i++;
  // At most one byte left ("-" or CR): the body was cut short.
  if (i >= body.length - 1) return new MultipartError('truncated', 'multipart body ends early');
  return new MultipartError('malformed', message);
}

function indexOfHeaderEnd(body: Buffer, from: number): number {
  // A part without headers has its blank line right away.
  if (body[from] === CR && body[from + 1] === LF) return from - 2;
  const end = body.indexOf(HEADER_END, from);
  const limit = from + MAX_HEADER_BYTES;
  if (end < 0) {
    if (body.length > limit) throw new MultipartError('malformed', 'multipart part headers too large');
    throw new MultipartError('truncated', 'multipart body ends inside part headers');
  }
  if (end > limit) throw new MultipartError('malformed', 'multipart part headers too large');
  return end;
}

/** Start of the next real delimiter at or after `from` (one followed by "--" or padding + CRLF). */
function nextDelimiter(body: Buffer, delimiter: Buffer, from: number): number {
  let at = body.indexOf(delimiter, from);
  while (at >= 0) {
    const after = at + delimiter.length;
    if (after + 1 < body.length && body[after] === DASH && body[after + 1] === DASH) return at;
    if (afterDelimiterLine(body, after) >= 0) return at;
    // Boundary-like bytes inside content that are not a delimiter line: keep looking.
    if (after + 1 >= body.length) break;
    at = body.indexOf(delimiter, at + 1);
  }
  throw new MultipartError('truncated', 'multipart body has no closing boundary');
}

function partFromHeaders(block: string, data: Buffer): MultipartPart {
  let name: string | undefined;
  let filename: string | null = null;
  let contentType: string | null = null;
  for (const line of block.split('\r\n')) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new MultipartError('malformed', 'malformed multipart part header');
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (key === 'content-disposition') {
      const semi = value.indexOf(';');
      const kind = (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase();
      if (kind !== 'form-data') throw new MultipartError('malformed', 'multipart part is not form-data');
      const params = semi === -1 ? new Map<string, string>() : parseParams(value.slice(semi + 1));
      name = params.get('name');
      filename = params.get('filename') ?? null;
    } else if (key === 'content-type') {
      contentType = value;
    }
  }
  if (name === undefined) throw new MultipartError('malformed', 'multipart part without a Content-Disposition name');
  // Header bytes were read as latin1; field and file names are UTF-8 on the wire.
  return { name: utf8(name), filename: filename === null ? null : utf8(filename), contentType, data };
}

function utf8(latin1: string): string {
  return Buffer.from(latin1, 'latin1').toString('utf8');
}

/** `; key=value; key="quoted \" value"` → lower-cased keys to values. */
function parseParams(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < text.length) {
    while (i < text.length && (text[i] === ';' || text[i] === ' ' || text[i] === '\t')) i++;
    const eq = text.indexOf('=', i);
    if (eq < 0) break;
    const key = text.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    let value = '';
    if (text[i] === '"') {
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        value += text[i];
        i++;
      }
      if (text[i] !== '"') throw new MultipartError('malformed', 'unterminated quoted parameter');
      i++;
    } else {
      const semi = text.indexOf(';', i);
      const end = semi < 0 ? text.length : semi;
      value = text.slice(i, end).trim();
      i = end;
    }
    if (key !== '' && !out.has(key)) out.set(key, value);
  }
  return out;
}
