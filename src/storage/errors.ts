/**
 * Errors shared by both dialects (a store backend throws these, callers
 * catch them without knowing the backend).
 *
 * @module
 */

export { StoreCorruptionError } from "./row_narrowing.ts";

/** The schema of the file is behind this binary and migration was not requested. */
export class SchemaNotCurrentError extends Error {
  constructor(readonly path: string, readonly pending: string[]) {
    const db = path === ":memory:" ? "" : ` --db ${path}`;
    super(
      `database ${path} needs ${pending.length} pending migration(s) (${pending.join(", ")}); ` +
        `run \`commucat migrate${db}\` (or start with \`commucat serve --migrate\`)`,
    );
    this.name = "SchemaNotCurrentError";
  }
}
