/**
 * The one error type of the configuration layer.
 *
 * @module
 */

/**
 * A configuration problem. The message is always a single line that starts
 * with `config:` and names the offending key (and the environment variable
 * when the value came from one); it never contains a secret value.
 */
export class ConfigError extends Error {
  /** Dotted key the problem is about, when there is one (e.g. `server.bind`). */
  readonly key: string | undefined;

  /** Creates an error; `message` must not contain the `config:` prefix. */
  constructor(message: string, key?: string) {
    super(`config: ${message.replace(/[\r\n]+/g, " ")}`);
    this.name = "ConfigError";
    this.key = key;
  }
}
