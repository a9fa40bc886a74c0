/**
 * HTTP response shapes shared by every endpoint: problem+json errors and
 * no-store JSON. Depends on nothing of ours.
 *
 * @module
 */
export { json, problem, type ProblemOptions } from "./problem.ts";
