/**
 * Shadowsocks AEAD (SIP004): the server listener (framing: src/crypto/shadowsocks/) that hands
 * decrypted streams to the server's HTTP app (see ./listener.ts).
 *
 * @module
 */
export * from "./listener.ts";
export * from "./replay.ts";
