/**
 * Peer-to-peer assistance: `/api/p2p/assist` content ({@link AssistService}),
 * per-path quality from echo probes ({@link PathQualityMeter}) and the
 * authenticated `/p2p` WebSocket relay ({@link P2pRelay}).
 *
 * @module
 */
export {
  type AssistFecProfile,
  type AssistOptions,
  AssistRateLimitedError,
  type AssistRequest,
  AssistService,
  type LivePath,
} from "./assist.ts";
export {
  PathQualityMeter,
  type PathQualityOptions,
  type PathQualitySnapshot,
  type QualityLabel,
  qualityScore,
} from "./path_quality.ts";
export { PathProber, type PathProberOptions, ProbeBook } from "./probe.ts";
export {
  P2pRelay,
  type RelayIdentity,
  type RelayObserver,
  type RelayOptions,
  type RelayOutcome,
} from "./relay.ts";
