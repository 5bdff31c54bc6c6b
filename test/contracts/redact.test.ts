import { describe, expect, it } from 'vitest';
import { quoteShort } from '../../src/config/echo.js';
import { redactUrl, secretScrubber } from '../../src/contracts/redact.js';

describe('redactUrl', () => {
  it('masks the password and secret query values, keeps the rest readable', () => {
    expect(redactUrl('rtsp://admin:hunter2@10.0.0.7:554/h264')).toBe('rtsp://admin:***@10.0.0.7:554/h264');
    expect(redactUrl('http://tok3n@cam/x')).toBe('http://***@cam/x');
    expect(redactUrl('https://cam/x.m3u8?token=abc&q=1')).toBe('https://cam/x.m3u8?token=***&q=1');
    expect(redactUrl('http://cam.local/mjpeg')).toBe('http://cam.local/mjpeg');
    expect(redactUrl('/videos/clip.mp4')).toBe('/videos/clip.mp4');
    expect(redactUrl('rtsp://admin:hunter2@')).not.toContain('hunter2');
  });
});

describe('secretScrubber', () => {
  it("masks the camera's secrets in ffmpeg lines, raw and percent-decoded, and any URL userinfo", () => {
    const scrub = secretScrubber('rtsp://admin:p%40ss%3Aw0rd@10.0.0.7/live');
    expect(scrub("[rtsp @ 0x1] method DESCRIBE failed: 401 Unauthorized rtsp://admin:p%40ss%3Aw0rd@10.0.0.7/live")).not.toMatch(/p%40ss|p@ss/);
    expect(scrub('password p@ss:w0rd rejected')).toBe('password *** rejected');
    expect(scrub('http://other:secret@h/')).toBe('http://other:***@h/');
  });
});

describe('quoteShort', () => {
  it('quotes, escapes and cuts what a client sent', () => {
    expect(quoteShort('door')).toBe('"door"');
    expect(quoteShort(70000)).toBe('70000');
    const long = quoteShort('x'.repeat(10_000));
    expect(long.length).toBeLessThan(100);
    expect(long).toContain('(10000 chars)');
    expect(quoteShort('a\u0000b\u202ec\n')).toBe('"a\\u0000b\\u202ec\\n"');
  });
});
