/**
 * Federation between CommuCat domains (docs/PROTOCOL.md "Federation"):
 * signed events (upstream §9.2, byte-exact), peers from the configuration
 * and the store, the inbound endpoints, one durable outbox worker with
 * retry, relay of frames to remote route members, and federated friend
 * requests with acceptance.
 *
 * @module
 */
export {
  canonicalJson,
  CanonicalJsonError,
  formatF64,
  JsonNumber,
  type JsonValue,
  parseJsonKeepingNumbers,
} from "./canonical.ts";
export {
  areFederatedFriends,
  type FederationMetrics,
  remoteUserId,
  splitAddress,
} from "./context.ts";
export {
  decodeSignedEvent,
  encodeSignedEvent,
  eventDigest,
  EventError,
  type FederationEvent,
  type SignedEvent,
  signEvent,
  verifySignedEvent,
} from "./event.ts";
export {
  type FederationResult,
  type FriendRequestBody,
  friendRequestSigningString,
  signFriendRequest,
} from "./friends.ts";
export { INBOX_SCOPE, MAX_RELAYED_PAYLOAD } from "./inbound.ts";
export { backoffMs, FederationOutbox, type OutboxOptions } from "./outbox.ts";
export { type FederationPeer, PeerDirectory, peerUrl } from "./peers.ts";
export { isRemoteMember, UnknownPeerError } from "./relay.ts";
export { Federation, type FederationOptions, refreshSignature } from "./service.ts";
export { formatRfc3339Nanos, parseRfc3339Nanos, TimestampError } from "./time.ts";
