/**
 * Ground-floor helper for permission-scoped Workers (depends on nothing of
 * ours): {@link RestartingWorker}, a Worker behind sequenced requests that is
 * replaced after a crash. Used by the codec pools (src/media/transcode) and
 * the FEC engine (src/fec).
 *
 * @module
 */
export { RestartingWorker, type RestartingWorkerOptions } from "./restarting_worker.ts";
