/**
 * Group routes cannot be hijacked: a member cannot swap a channel's route for
 * a group's, invitations cannot demote the owner, and a refused invitation
 * changes nothing.
 */
import assert from "node:assert/strict";
import { CommuCatClient, ServerError } from "../src/client/mod.ts";
import { FrameType } from "../src/proto/mod.ts";
import { befriend } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer } from "./helpers/inprocess.ts";

const refusedWith = (code: string) => (e: unknown) => e instanceof ServerError && e.code === code;

Deno.test("groups: no route swap by Join, no owner demotion, refused invites change nothing", async () => {
  const srv = await startTestServer();
  try {
    const devices = [newDevice("owner"), newDevice("admin"), newDevice("m"), newDevice("x")];
    const [owner, admin, member, outsider] = await Promise.all(
      devices.map((d) => CommuCatClient.connect(connectOptions(srv, d))),
    );
    for (const other of [admin, member, outsider]) await befriend(srv, owner, other);
    await befriend(srv, admin, outsider);
    const created = await owner.request(FrameType.GroupCreate, 50, {
      members: [devices[1].deviceId, devices[2].deviceId],
      roles: { [devices[1].deviceId]: "admin" },
    });
    const groupId = String(created.group_id);

    // A plain channel of owner+outsider: the member of a group cannot rebind it to the group.
    await owner.join(60, [devices[3].deviceId]);
    await assert.rejects(owner.join(60, [], { groupId }), refusedWith("not_member"));

    // The admin re-invites the owner as a plain member: the owner stays owner.
    await admin.request(FrameType.GroupInvite, 50, {
      group_id: groupId,
      device: devices[0].deviceId,
      role: "member",
    });
    const roles = await srv.server.store.listGroupMembers(groupId);
    assert.equal(roles.find((m) => m.deviceId === devices[0].deviceId)?.role, "owner");

    // An invite naming a channel of another route is refused and adds nobody to the group.
    await assert.rejects(
      admin.request(FrameType.GroupInvite, 60, { group_id: groupId, device: devices[3].deviceId }),
      refusedWith("not_member"),
    );
    const after = await srv.server.store.listGroupMembers(groupId);
    assert.equal(after.some((m) => m.deviceId === devices[3].deviceId), false);
    for (const c of [owner, admin, member, outsider]) c.close();
  } finally {
    await srv.stop();
  }
});
