/**
 * Shadowsocks AEAD (SIP004) framing, shared by the server listener
 * (src/transport/shadowsocks/) and the client transport
 * (src/client/transports/shadowsocks.ts). Separate from ../mod.ts: it needs
 * node:crypto ciphers the browser bundle does not have.
 *
 * @module
 */
export * from "./aead.ts";
