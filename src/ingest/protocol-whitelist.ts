/**
 * ffmpeg input options that pin a camera to the protocols of its own scheme,
 * so a playlist, an RTSP redirect or an HTTP Location cannot make ffmpeg
 * open another protocol (file:, concat:, pipe:, …) or hop elsewhere.
 */
import type { ResolvedSource } from './source.js';

/** Options placed before `-i`; empty for sources that are not URLs (devices, the built-in test source). */
export function protocolWhitelistArgs(source: ResolvedSource): string[] {
  switch (source.kind) {
    case 'rtsp': {
      const tls = /^rtsps:/i.test(source.url);
      return ['-protocol_whitelist', tls ? 'rtsp,rtsps,tls,tcp,udp,rtp,srtp' : 'rtsp,tcp,udp,rtp'];
    }
    case 'http': {
      const tls = /^https:/i.test(source.url);
      const base = tls ? 'https,tls,tcp' : 'http,tcp';
      // Encrypted HLS segments go through crypto:, over the same scheme.
      // No redirects: a Location header is how an allowed host would point ffmpeg at another one.
      return ['-protocol_whitelist', source.hls ? `${base},crypto` : base, '-max_redirects', '0'];
    }
    case 'file':
      return ['-protocol_whitelist', 'file'];
    case 'device':
    case 'lavfi':
      return [];
  }
}
