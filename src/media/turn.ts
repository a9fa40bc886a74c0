/**
 * TURN credentials for call participants. A server with a shared secret
 * gets coturn REST credentials (`use-auth-secret`): `username =
 * "<unix expiry>:<ufrag>"`, `credential = base64(HMAC-SHA1(secret,
 * username))`, valid `max(ttl, 60)` seconds; a server with static
 * credentials hands them out as they are.
 *
 * @module
 */
import { createHmac } from "node:crypto";

/** A configured TURN server (the shape of `[ice.turn.<name>]`). */
export interface TurnServerConfig {
  readonly urls: readonly string[];
  readonly auth:
    | { readonly kind: "secret"; readonly secret: string }
    | { readonly kind: "static"; readonly username: string; readonly password: string };
  readonly realm?: string;
}

/** One entry of a client's ICE server list (WebRTC `RTCIceServer` plus lifetime). */
export interface IceServer {
  urls: string[];
  username: string;
  credential: string;
  /** Seconds the credential is valid; 0 = static. */
  ttl_secs: number;
  /** RFC 3339 expiry of REST credentials. */
  expires_at?: string;
  realm?: string;
}

/** The coturn REST credential of `username` under `secret`. */
export function turnRestCredential(secret: string, username: string): string {
  return createHmac("sha1", secret).update(username).digest("base64");
}

/** ICE servers for a participant whose ICE ufrag (or device id) is `ufrag`, at `nowMs`. */
export function iceServers(
  servers: readonly TurnServerConfig[],
  ufrag: string,
  ttlSeconds: number,
  nowMs: number,
): IceServer[] {
  const ttl = Math.max(ttlSeconds, 60);
  return servers.map((s) => {
    const base = s.realm === undefined ? {} : { realm: s.realm };
    if (s.auth.kind === "static") {
      return {
        urls: [...s.urls],
        username: s.auth.username,
        credential: s.auth.password,
        ttl_secs: 0,
        ...base,
      };
    }
    const expiry = Math.floor(nowMs / 1000) + ttl;
    const username = `${expiry}:${ufrag}`;
    return {
      urls: [...s.urls],
      username,
      credential: turnRestCredential(s.auth.secret, username),
      ttl_secs: ttl,
      expires_at: new Date(expiry * 1000).toISOString().replace(/\.\d{3}Z$/, "Z"),
      ...base,
    };
  });
}
