/**
 * Shadowsocks AEAD (SIP004): the framing and the server listener that hands
 * decrypted streams to the server's HTTP app (see ./listener.ts).
 *
 * @module
 */
export * from "./aead.ts";
export * from "./listener.ts";
export * from "./replay.ts";
export * from "./target.ts";
