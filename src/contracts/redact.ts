/**
 * Camera credentials never leave the process: every URL shown in an API
 * answer, log line, error, metric or capture record goes through here.
 */

const MASK = '***';
// scheme://user:password@ — the userinfo part of any URL inside free text.
const USERINFO_IN_TEXT = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@:'"]*):([^\s/@'"]*)@/gi;
const SECRET_QUERY_KEYS = /^(password|passwd|pass|pwd|secret|token|key|apikey|api_key|auth|signature|sig|credential|credentials)$/i;

/** `rtsp://user:pass@host/x?token=t` → `rtsp://user:***@host/x?token=***`; anything not a URL is returned as is. */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // A file path or device name, or a URL too broken to parse that may still hold a password.
    return maskUserinfo(url);
  }
  if (!parsed.username && !parsed.password && ![...parsed.searchParams.keys()].some((k) => SECRET_QUERY_KEYS.test(k))) return url;
  if (parsed.password) parsed.password = MASK;
  else if (parsed.username) parsed.username = MASK; // a lone userinfo part is often the token itself
  for (const key of [...parsed.searchParams.keys()]) if (SECRET_QUERY_KEYS.test(key)) parsed.searchParams.set(key, MASK);
  return parsed.toString().replaceAll(encodeURIComponent(MASK), MASK);
}

/** The secret strings of a URL (password, lone username, secret query values), raw and percent-decoded. */
function secretsOf(url: string): string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [];
  }
  const raw: string[] = [];
  if (parsed.password) raw.push(parsed.password);
  else if (parsed.username) raw.push(parsed.username);
  for (const [key, value] of parsed.searchParams) if (SECRET_QUERY_KEYS.test(key) && value) raw.push(value);
  const out = new Set<string>();
  for (const s of raw) {
    out.add(s);
    try {
      out.add(decodeURIComponent(s));
    } catch {
      // not valid percent-encoding: the raw form is enough
    }
  }
  // Longest first, so a secret that contains another is masked whole.
  return [...out].filter((s) => s.length >= 2).sort((a, b) => b.length - a.length);
}

function maskUserinfo(text: string): string {
  return text.replace(USERINFO_IN_TEXT, (_m, scheme: string, user: string) => `${scheme}${user}:${MASK}@`);
}

/**
 * A scrubber for text that may echo `url` (ffmpeg's stderr, error messages):
 * the URL's own secrets wherever they appear, and the userinfo of any URL.
 */
export function secretScrubber(url: string): (text: string) => string {
  const secrets = secretsOf(url);
  return (text) => {
    let out = maskUserinfo(text);
    for (const secret of secrets) out = out.split(secret).join(MASK);
    return out;
  };
}
