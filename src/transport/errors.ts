/**
 * Errors of listeners.
 *
 * @module
 */

/** A listener could not bind: names the address and the config key it comes from. */
export class ListenError extends Error {
  readonly configKey: string;
  readonly address: string;

  constructor(configKey: string, address: string, cause: unknown) {
    const why = cause instanceof Deno.errors.AddrInUse
      ? "address already in use"
      : cause instanceof Deno.errors.AddrNotAvailable
      ? "address not available on this host"
      : cause instanceof Deno.errors.PermissionDenied || cause instanceof Deno.errors.NotCapable
      ? `not permitted: grant --allow-net=${address} (${(cause as Error).message})`
      : cause instanceof Error
      ? cause.message
      : String(cause);
    super(`cannot listen on ${address} (${configKey}): ${why}`, { cause });
    this.name = "ListenError";
    this.configKey = configKey;
    this.address = address;
  }
}
