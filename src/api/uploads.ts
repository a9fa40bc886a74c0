/**
 * Avatars (upstream §7): `POST /api/users/me/avatar` takes the raw image,
 * stores it content-addressed in `uploads.dir`, and `GET /uploads/{file}`
 * serves it back as an immutable static file.
 *
 * @module
 */
import { blake3, toHex } from "../crypto/mod.ts";
import { authenticate } from "./auth.ts";
import type { ApiDeps } from "./deps.ts";
import { ApiError, json, pathSegment, problem, readBody } from "./http.ts";

/** Largest avatar: 5 MiB. */
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
  const data = await readBody(request, MAX_AVATAR_BYTES, "avatar file too large (max 5 MB)");
  if (data.length === 0) throw new ApiError(400, "avatar body is empty");
  if (!type.magic(data)) {
    throw new ApiError(400, `avatar content is not a ${mime.slice(6)} image`);
  }
  const filename = `${toHex(blake3(data)).slice(0, 16)}.${type.ext}`;
  const dir = deps.config.uploads.dir;
  await Deno.mkdir(dir, { recursive: true });
  const tmp = `${dir}/.${filename}.${crypto.randomUUID()}.tmp`;
  await Deno.writeFile(tmp, data, { mode: 0o644 });
  await Deno.rename(tmp, `${dir}/${filename}`);
  const avatarUrl = `${deps.config.uploads.baseUrl.replace(/\/+$/, "")}/${filename}`;
  await deps.store.updateUserProfile(caller.user.userId, { avatarUrl }, new Date(deps.now()));
  return json({ avatar_url: avatarUrl, filename });
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
  let data: Uint8Array<ArrayBuffer>;
  try {
    data = await Deno.readFile(`${deps.config.uploads.dir}/${name}`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return problem(404, "not found");
    throw error;
  }
  return new Response(data, {
    headers: {
      "content-type": CONTENT_TYPES[match[1]],
      "content-length": String(data.length),
      "cache-control": "public, max-age=31536000, immutable",
      "x-content-type-options": "nosniff",
    },
  });
}
