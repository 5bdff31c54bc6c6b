import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fixturePath } from '../helpers/fixtures.js';
import { boundaryFromContentType, findFilePart, MultipartError, parseMultipart } from '../../src/api/multipart.js';

const JPEG = readFileSync(await fixturePath('coco', '000000000139.jpg'));

function body(boundary: string, parts: { headers: string[]; data: Buffer | string }[], closing = true, preamble = ''): Buffer {
  const chunks: Buffer[] = [Buffer.from(preamble)];
  for (const part of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\n${part.headers.join('\r\n')}\r\n\r\n`));
    chunks.push(typeof part.data === 'string' ? Buffer.from(part.data) : part.data);
    chunks.push(Buffer.from('\r\n'));
  }
  if (closing) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof MultipartError) return err.code;
    throw err;
  }
  return 'no error';
}

const fileHeaders = ['Content-Disposition: form-data; name="file"; filename="a.jpg"', 'Content-Type: image/jpeg'];

describe('boundaryFromContentType', () => {
  it('reads plain and quoted boundaries, case-insensitively', () => {
    expect(boundaryFromContentType('multipart/form-data; boundary=----abc123')).toBe('----abc123');
    expect(boundaryFromContentType('Multipart/Form-Data; charset=utf-8; BOUNDARY="with space:and?"')).toBe('with space:and?');
  });

  it('refuses other types, a missing boundary and invalid boundaries', () => {
    expect(codeOf(() => boundaryFromContentType('application/json'))).toBe('not_multipart');
    expect(codeOf(() => boundaryFromContentType(''))).toBe('not_multipart');
    expect(codeOf(() => boundaryFromContentType('multipart/form-data'))).toBe('bad_boundary');
    expect(codeOf(() => boundaryFromContentType('multipart/form-data; boundary='))).toBe('bad_boundary');
    expect(codeOf(() => boundaryFromContentType(`multipart/form-data; boundary=${'x'.repeat(71)}`))).toBe('bad_boundary');
    expect(codeOf(() => boundaryFromContentType('multipart/form-data; boundary="unterminated'))).toBe('malformed');
    expect(codeOf(() => boundaryFromContentType('multipart/form-data; boundary="ends with space "'))).toBe('bad_boundary');
  });
});

describe('parseMultipart', () => {
  it('finds the file among other fields and returns its exact bytes as a view', () => {
    const b = 'XyZ';
    const raw = body(b, [
      { headers: ['Content-Disposition: form-data; name="note"'], data: 'hello' },
      { headers: fileHeaders, data: JPEG },
      { headers: ['Content-Disposition: form-data; name="other"'], data: '' },
    ]);
    const parts = parseMultipart(raw, b);
    expect(parts.map((p) => p.name)).toEqual(['note', 'file', 'other']);
    expect(parts[0]!.data.toString()).toBe('hello');
    expect(parts[2]!.data.length).toBe(0);
    const file = findFilePart(raw, `multipart/form-data; boundary=${b}`);
    expect(file.filename).toBe('a.jpg');
    expect(file.contentType).toBe('image/jpeg');
    expect(file.data.equals(JPEG)).toBe(true);
    expect(file.data.buffer).toBe(raw.buffer);
  });

  it('keeps binary content that contains boundary-like bytes', () => {
    const b = 'bnd';
    // "--bnd" inside content without CRLF before it, and "\r\n--bndX" (not a delimiter line).
    const tricky = Buffer.concat([Buffer.from([0, 0xff, 0x0d]), Buffer.from('--bnd\r\n'), Buffer.from('\r\n--bndX more\r\n--bn'), JPEG.subarray(0, 100)]);
    const raw = body(b, [{ headers: fileHeaders, data: tricky }]);
    const file = findFilePart(raw, `multipart/form-data; boundary="${b}"`);
    expect(file.data.equals(tricky)).toBe(true);
  });

  it('accepts a preamble, transport padding after the delimiter and an epilogue', () => {
    const raw = Buffer.from(`ignored preamble\r\n--pad  \t\r\nContent-Disposition: form-data; name="file"\r\n\r\nDATA\r\n--pad--\r\nepilogue`);
    expect(findFilePart(raw, 'multipart/form-data; boundary=pad').data.toString()).toBe('DATA');
    // Header names are case-insensitive.
    const lower = Buffer.from(`--pad\r\ncontent-disposition: form-data; name=file\r\n\r\nX\r\n--pad--`);
    expect(findFilePart(lower, 'multipart/form-data; boundary=pad').data.toString()).toBe('X');
  });

  it('needs CRLF line ends: bare LF framing is malformed', () => {
    const raw = Buffer.from('--lf\nContent-Disposition: form-data; name="file"\n\nDATA\n--lf--\n');
    expect(codeOf(() => parseMultipart(raw, 'lf'))).toBe('malformed');
  });

  it('reports a body cut short as truncated wherever it is cut', () => {
    const b = 'cut';
    const full = body(b, [{ headers: fileHeaders, data: JPEG.subarray(0, 2000) }]);
    const closeAt = full.lastIndexOf(`--${b}--`);
    // No closing boundary at all, cut inside the content, inside headers, after the delimiter.
    expect(codeOf(() => parseMultipart(body(b, [{ headers: fileHeaders, data: 'abc' }], false), b))).toBe('truncated');
    for (const cut of [closeAt + 3, closeAt - 2, 1000, 30, 7, 5]) {
      expect(codeOf(() => parseMultipart(full.subarray(0, cut), b)), `cut at ${cut}`).toBe('truncated');
    }
    expect(codeOf(() => parseMultipart(Buffer.alloc(0), b))).toBe('truncated');
    expect(parseMultipart(full.subarray(0, closeAt + b.length + 4), b)).toHaveLength(1);
  });

  it('refuses bodies without a delimiter, parts without a name, and oversized headers', () => {
    expect(codeOf(() => parseMultipart(Buffer.from('just some bytes'), 'zz'))).toBe('malformed');
    expect(codeOf(() => parseMultipart(body('q', [{ headers: ['Content-Type: text/plain'], data: 'x' }]), 'q'))).toBe('malformed');
    expect(codeOf(() => parseMultipart(body('q', [{ headers: ['Content-Disposition: attachment; name="file"'], data: 'x' }]), 'q'))).toBe('malformed');
    const huge = body('q', [{ headers: [`Content-Disposition: form-data; name="file"; x="${'a'.repeat(9000)}"`], data: 'x' }]);
    expect(codeOf(() => parseMultipart(huge, 'q'))).toBe('malformed');
  });

  it('says which field is missing', () => {
    const raw = body('m', [{ headers: ['Content-Disposition: form-data; name="image"; filename="a.jpg"'], data: JPEG.subarray(0, 10) }]);
    expect(codeOf(() => findFilePart(raw, 'multipart/form-data; boundary=m'))).toBe('missing_field');
    expect(findFilePart(raw, 'multipart/form-data; boundary=m', 'image').data.length).toBe(10);
  });

  it('decodes UTF-8 field and file names', () => {
    const raw = body('u', [{ headers: ['Content-Disposition: form-data; name="file"; filename="caf\u00e9 \\"1\\".jpg"'], data: 'x' }]);
    // Written as UTF-8 on the wire.
    const utf8 = Buffer.from(raw.toString('utf8'), 'utf8');
    expect(findFilePart(utf8, 'multipart/form-data; boundary=u').filename).toBe('café "1".jpg');
  });

  it('matches what a real FormData encoder produces', async () => {
    const form = new FormData();
    form.append('meta', 'x');
    form.append('file', new Blob([JPEG], { type: 'image/jpeg' }), '139.jpg');
    const request = new Request('http://127.0.0.1/', { method: 'POST', body: form });
    const raw = Buffer.from(await request.arrayBuffer());
    const part = findFilePart(raw, request.headers.get('content-type') ?? '');
    expect(part.filename).toBe('139.jpg');
    expect(part.data.equals(JPEG)).toBe(true);
  });
});
