/**
 * Tor pluggable transports (pt-spec v1, managed mode): the server listener
 * that runs a PT server binary (obfs4proxy) as a child and accepts its
 * connections through an Extended ORPort (./listener.ts), the child process
 * protocol both sides share (./managed.ts, ./protocol.ts).
 *
 * @module
 */
export * from "./ext_orport.ts";
export * from "./listener.ts";
export * from "./managed.ts";
export * from "./protocol.ts";
