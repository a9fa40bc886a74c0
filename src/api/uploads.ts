/**
 * Avatars (upstream §7): `POST /api/users/me/avatar` takes the raw image,
 * stores it in `uploads.dir` under a name derived from the user and the
 * content, and `GET /uploads/{file}` serves it back as an immutable static
 * file.
 *
 * A user keeps one avatar: the previous file is deleted once the profile
 * points at the new one (upstream kept every upload forever), and one avatar
 * is at most `uploads.max_bytes_per_user` bytes, so the directory holds at
 * most that much per user. The name hashes the user id with the content, so
 * a file is never shared between users and deleting one user's avatar cannot
 * break another's.
 *
 * @module
 */
import { blake3, concatBytes, toHex, utf8 } from "../crypto/mod.ts";
import { authenticate } from "./auth.ts";
import type { ApiDeps } from "./deps.ts";
import { ApiError, json, pathSegment, problem, readBody } from "./http.ts";

/** Default per-user upload quota (`uploads.max_bytes_per_user`): one avatar of 5 MiB. */
export const MAX_AVATAR_BYTES = 5 * 1024 * 1024;

const TYPES: Record<string, { ext: string; magic: (b: Uint8Array) => boolean }> = {
  "image/jpeg": { ext: "jpg", magic: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff },
  "image/png": {
    ext: "png",
    magic: (b) => [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].every((v, i) => b[i] === v),
  },
  "image/webp": {
    ext: "webp",
    magic: (b) => ascii(b, 0, 4) === "RIFF" && ascii(b, 8, 12) === "WEBP",
  },
  "image/gif": { ext: "gif", magic: (b) => ascii(b, 0, 4) === "GIF8" },
};

const CONTENT_TYPES: Record<string, string> = {
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  gif: "image/gif",
};

function ascii(bytes: Uint8Array, from: number, to: number): string {
  return String.fromCharCode(...bytes.subarray(from, to));
}

/** POST /api/users/me/avatar */
export async function uploadAvatar(deps: ApiDeps, request: Request): Promise<Response> {
  const caller = await authenticate(deps, request);
  const header = request.headers.get("content-type") ?? "";
  const declared = header.split(";")[0].trim().toLowerCase();
  const mime = declared.startsWith("image/") ? declared : "image/jpeg";
  const type = TYPES[mime];
  if (type === undefined) {
    throw new ApiError(400, `invalid image type '${mime}' (allowed: jpeg, png, webp, gif)`);
  }
  const quota = deps.config.uploads.maxBytesPerUser ?? MAX_AVATAR_BYTES;
  const data = await readBody(request, quota, `avatar file too large (max ${sizeText(quota)})`);
  if (data.length === 0) throw new ApiError(400, "avatar body is empty");
  if (!type.magic(data)) {
    throw new ApiError(400, `avatar content is not a ${mime.slice(6)} image`);
  }
  const userId = caller.user.userId;
  const filename = `${avatarHash(userId, data)}.${type.ext}`;
  const { dir, baseUrl } = deps.config.uploads;
  await Deno.mkdir(dir, { recursive: true });
  const tmp = `${dir}/.${filename}.${crypto.randomUUID()}.tmp`;
  await Deno.writeFile(tmp, data, { mode: 0o644 });
  await Deno.rename(tmp, `${dir}/${filename}`);
  const prefix = `${baseUrl.replace(/\/+$/, "")}/`;
  const avatarUrl = `${prefix}${filename}`;
  // Read right before the update, so a concurrent upload's file is seen as the previous one.
  const previous = (await deps.store.getUser(userId))?.avatarUrl ?? null;
  await deps.store.updateUserProfile(userId, { avatarUrl }, new Date(deps.now()));
  // Re-read: when a concurrent upload of the same user updated after us, our file lost.
  const current = (await deps.store.getUser(userId))?.avatarUrl ?? null;
  for (const url of new Set([previous, avatarUrl])) {
    if (url === null || url === current || !url.startsWith(prefix)) continue;
    await deleteOwnUpload(dir, url.slice(prefix.length), userId);
  }
  return json({ avatar_url: avatarUrl, filename });
}

/** 16 hex of BLAKE3(user id ‖ 0 ‖ image): one user's file is never another's. */
export function avatarHash(userId: string, data: Uint8Array): string {
  return toHex(blake3(concatBytes(utf8(userId), new Uint8Array([0]), data))).slice(0, 16);
}

/**
 * Deletes `name` from `dir` when it is an upload of `userId` (its name is
 * that user's hash of its content); anything else, such as a URL copied from
 * another user's profile or a file from before per-user names, is left alone.
 */
async function deleteOwnUpload(dir: string, name: string, userId: string): Promise<void> {
  const match = UPLOAD_NAME.exec(name);
  if (match === null) return;
  let data: Uint8Array;
  try {
    data = await Deno.readFile(`${dir}/${name}`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return; // already gone: a concurrent upload won
    throw error;
  }
  if (`${avatarHash(userId, data)}.${match[1]}` !== name) return;
  try {
    await Deno.remove(`${dir}/${name}`);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

function sizeText(bytes: number): string {
  const MiB = 1024 * 1024;
  return bytes % MiB === 0 ? `${bytes / MiB} MB` : `${bytes} bytes`;
}

const UPLOAD_NAME = /^[0-9a-f]{16}\.(jpg|jpeg|png|webp|gif)$/;

/** GET /uploads/{filename} */
export async function serveUpload(deps: ApiDeps, request: Request): Promise<Response> {
  const name = pathSegment(request, 2);
  if (name.includes("..") || name.includes("/") || name.includes("\\")) {
    return problem(403, "forbidden");
  }
  const match = UPLOAD_NAME.exec(name);
  if (match === null) return problem(404, "not found");
  // Streamed from the file: reading it whole (up to the 5 MiB quota) and
  // handing the bytes to Response cost two fresh copies per request (Response
  // copies a BufferSource body), whose page faults dominated a bulk download.
  let file: Deno.FsFile;
  let size: number;
  try {
    file = await Deno.open(`${deps.config.uploads.dir}/${name}`, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return problem(404, "not found");
    throw error;
  }
  try {
    size = (await file.stat()).size;
  } catch (error) {
    file.close();
    throw error;
  }
  return new Response(file.readable, {
    headers: {
      "content-length": String(size),
      "content-type": CONTENT_TYPES[match[1]],
      "cache-control": "public, max-age=31536000, immutable",
      "x-content-type-options": "nosniff",
    },
  });
}
