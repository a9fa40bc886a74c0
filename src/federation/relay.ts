/**
 * Outbound relay (upstream §9.4): a frame for a route member on another
 * domain (`device@b.example`) becomes a signed event in the outbox.
 *
 * @module
 */
import { toHex } from "../crypto/mod.ts";
import { encodeFrame, type Frame } from "../proto/mod.ts";
import { type FederationContext, remoteUserId, splitAddress } from "./context.ts";
import { encodeSignedEvent, signEvent } from "./event.ts";
import { nowRfc3339 } from "./friends.ts";

/** A member id names a device of another domain. */
export function isRemoteMember(member: string, localDomain: string): boolean {
  const address = splitAddress(member);
  return address !== null && address.domain !== "" && address.domain !== localDomain;
}

/** No active peer for the member's domain. */
export class UnknownPeerError extends Error {
  constructor(domain: string) {
    super(`no active federation peer for ${domain}`);
    this.name = "UnknownPeerError";
  }
}

/**
 * Queues one signed relay event per remote member. Payload:
 * `{channel, payload: hex(frame), sender: device@us, sender_user: handle@us, sequence, target}`.
 * Resolves once every event is stored.
 */
export async function relayToRemote(
  ctx: FederationContext,
  fromDevice: string,
  members: string[],
  frame: Frame,
): Promise<void> {
  // Only route members relay (server-originated frames go to local devices only).
  const device = await ctx.store.getDevice(fromDevice);
  const user = device ? await ctx.store.getUser(device.userId) : null;
  const encoded = toHex(encodeFrame(frame));
  for (const member of members) {
    const address = splitAddress(member)!;
    const peer = await ctx.peers.get(address.domain);
    if (peer === null) throw new UnknownPeerError(address.domain);
    const eventId = ctx.newId(`federation-relay:${member}`);
    const signed = signEvent({
      event_id: eventId,
      origin: ctx.domain,
      created_at: nowRfc3339(ctx),
      scope: peer.domain,
      payload: {
        channel: frame.channel,
        payload: encoded,
        sender: `${fromDevice}@${ctx.domain}`,
        ...(user ? { sender_user: remoteUserId(user.handle, ctx.domain) } : {}),
        sequence: frame.sequence,
        target: member,
      },
    }, ctx.seed);
    await ctx.outbox.enqueue(peer, encodeSignedEvent(signed), eventId);
    ctx.metrics.outboxEnqueued();
  }
}
