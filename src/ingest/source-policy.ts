/**
 * Which camera sources a client may ask the service to open. ffmpeg reads
 * whatever it is given (files, filter graphs that read and write files, any
 * URL), so API-added cameras pass this check before anything is started.
 * Every refusal is a SourcePolicyError whose message names the rule and
 * echoes at most a short, redacted prefix of the input; it never says
 * whether a path exists.
 */
import { lookup } from 'node:dns/promises';
import { realpathSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { quoteShort } from '../config/echo.js';
import type { SourcesConfig } from '../config/schema.js';
import { redactUrl } from '../contracts/redact.js';

export const MAX_URL_CHARS = 2048;

export class SourcePolicyError extends Error {
  override readonly name = 'SourcePolicyError';
}

export interface PolicyEnv {
  /** Every address a host name resolves to; rejects when it does not resolve. */
  resolveHost(host: string): Promise<string[]>;
  /** Addresses of this machine's interfaces (a camera URL naming one of them reaches the service too). */
  localAddresses(): string[];
  /** The path with symlinks resolved, or null when it does not exist. */
  realpath(path: string): string | null;
}

export const defaultPolicyEnv: PolicyEnv = {
  resolveHost: async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address),
  localAddresses: () =>
    Object.values(networkInterfaces())
      .flat()
      .map((i) => i?.address)
      .filter((a): a is string => typeof a === 'string'),
  realpath: (path) => {
    try {
      return realpathSync(path);
    } catch {
      return null;
    }
  },
};

export interface SourceCheck {
  sources: SourcesConfig;
  /** Ports the service listens on: a loopback URL with one of them is the service itself. */
  ownPorts: readonly number[];
}

const DEFAULT_PORTS: Record<string, number> = { rtsp: 554, rtsps: 322, http: 80, https: 443 };
const NETWORK_SCHEMES = new Set(Object.keys(DEFAULT_PORTS));
const SCHEME = /^([a-z][a-z0-9+.-]*):/i;
const WINDOWS_DRIVE = /^[a-z]:[\\/]/i;
const DEVICE = /^(auto|\d{1,3}|video=[^\\/]{1,128})$/;
const DEV_VIDEO = /^\/dev\/video\d{1,3}$/;
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Link-local (incl. the cloud metadata endpoints 169.254.169.254 and fd00:ec2::254). */
const LINK_LOCAL = new BlockList();
LINK_LOCAL.addSubnet('169.254.0.0', 16, 'ipv4');
LINK_LOCAL.addSubnet('fe80::', 10, 'ipv6');
LINK_LOCAL.addAddress('fd00:ec2::254', 'ipv6');
/** Addresses that reach this machine itself. */
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addSubnet('0.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addAddress('::', 'ipv6');

const refuse = (message: string): never => {
  throw new SourcePolicyError(message);
};

/** `::ffff:169.254.169.254` is the IPv4 address in disguise. */
function unmapped(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return { address: mapped[1] as string, family: 'ipv4' };
  return { address, family: isIP(address) === 6 ? 'ipv6' : 'ipv4' };
}

function hostAllowed(host: string, allowed: readonly string[]): boolean {
  const h = host.toLowerCase();
  return allowed.some((entry) => {
    const e = entry.toLowerCase();
    return e.startsWith('*.') ? h.endsWith(e.slice(1)) && h.length > e.length - 1 : h === e;
  });
}

function schemeAllowed(kind: string, check: SourceCheck): void {
  if (!(check.sources.allowed_schemes as readonly string[]).includes(kind)) {
    refuse(`camera sources of kind "${kind}" are not allowed here; allowed: ${check.sources.allowed_schemes.join(', ') || 'none'} (sources.allowed_schemes)`);
  }
}

async function checkNetwork(url: string, scheme: string, check: SourceCheck, env: PolicyEnv): Promise<void> {
  schemeAllowed(scheme, check);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return refuse(`camera url is not a valid ${scheme}:// URL: ${quoteShort(redactUrl(url))}`);
  }
  if (!url.slice(scheme.length).startsWith('://') || parsed.hostname === '') refuse(`camera url has no host: ${quoteShort(redactUrl(url))}`);
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  if (check.sources.allowed_hosts.length > 0 && !hostAllowed(host, check.sources.allowed_hosts)) {
    refuse(`camera host ${quoteShort(host)} is not in sources.allowed_hosts`);
  }
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = await env.resolveHost(host);
    } catch {
      return refuse(`camera host ${quoteShort(host)} does not resolve`);
    }
    if (addresses.length === 0) refuse(`camera host ${quoteShort(host)} does not resolve`);
  }
  const port = parsed.port === '' ? DEFAULT_PORTS[scheme] : Number(parsed.port);
  const local = new Set(env.localAddresses().map((a) => unmapped(a).address));
  for (const raw of addresses) {
    const { address, family } = unmapped(raw);
    if (LINK_LOCAL.check(address, family)) refuse(`camera host ${quoteShort(host)} is a link-local or cloud metadata address, which is never allowed`);
    const self = LOOPBACK.check(address, family) || local.has(address);
    if (self && port !== undefined && check.ownPorts.includes(port)) refuse(`camera url points at this service itself (port ${port})`);
  }
}

function checkFile(path: string, check: SourceCheck, env: PolicyEnv): void {
  schemeAllowed('file', check);
  // One message whether or not the path exists, and no working directory in it.
  const outside = (): never => refuse('local video files are allowed only below the directories in sources.file_dirs, given as absolute paths');
  if (!(isAbsolute(path) || WINDOWS_DRIVE.test(path))) outside();
  const normal = resolve(path);
  const target = env.realpath(normal) ?? normal;
  const inside = check.sources.file_dirs.some((dir) => {
    const root = env.realpath(resolve(dir)) ?? resolve(dir);
    const rel = relative(root, target);
    return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
  });
  if (!inside) outside();
}

/**
 * Resolves when `url` may be opened as a camera; throws SourcePolicyError
 * otherwise. Host names are resolved first, so a name cannot hide a refused address.
 */
export async function checkCameraSource(rawUrl: string, check: SourceCheck, env: PolicyEnv = defaultPolicyEnv): Promise<void> {
  const url = rawUrl.trim();
  if (url.length > MAX_URL_CHARS) refuse(`camera url is too long (${url.length} characters; at most ${MAX_URL_CHARS})`);
  if (CONTROL.test(url)) refuse('camera url contains control characters');
  if (url.startsWith('-')) refuse('camera url may not start with "-"');
  if (/^lavfi:/i.test(url)) refuse('lavfi filter graphs are not accepted as camera sources');

  const scheme = SCHEME.exec(url)?.[1]?.toLowerCase();
  if (scheme !== undefined && !WINDOWS_DRIVE.test(url)) {
    if (NETWORK_SCHEMES.has(scheme)) return checkNetwork(url, scheme, check, env);
    if (scheme === 'file') {
      let path: string;
      try {
        path = fileURLToPath(url);
      } catch {
        return refuse('camera url is not a valid file:// URL');
      }
      return checkFile(path, check, env);
    }
    return refuse(`camera url scheme ${quoteShort(`${scheme.slice(0, 16)}:`)} is not accepted; allowed: rtsp://, rtsps://, http://, https://, a file below sources.file_dirs or a camera device`);
  }
  if (DEVICE.test(url) || DEV_VIDEO.test(url)) return schemeAllowed('device', check);
  if (url.startsWith('/dev/')) refuse('only /dev/videoN devices may be opened');
  checkFile(url, check, env);
}
