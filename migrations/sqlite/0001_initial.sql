-- CommuCat schema, SQLite dialect. Version 0001: the complete initial schema.
--
-- Conventions: times are INTEGER unix milliseconds (UTC), binary values are
-- BLOB, JSON documents are TEXT, booleans are INTEGER 0/1. Tables are STRICT so
-- a wrong type is an error rather than a silent coercion. The PostgreSQL
-- dialect (migrations/postgres/0001_initial.sql) has the same tables and
-- columns. Never edit this file once released: add 0002_*.sql instead (the
-- runner refuses a database whose applied migration no longer matches its file).

-- Accounts. A handle is unique per domain.
CREATE TABLE app_user (
  user_id TEXT PRIMARY KEY,
  handle TEXT NOT NULL,
  display_name TEXT,
  avatar_url TEXT,
  domain TEXT NOT NULL DEFAULT 'local',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX idx_app_user_handle_domain ON app_user (handle, domain);
CREATE INDEX idx_app_user_domain ON app_user (domain);
CREATE INDEX idx_app_user_created ON app_user (created_at, user_id);

-- Devices of a user, identified by their Ed25519 public key.
CREATE TABLE user_device (
  device_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES app_user (user_id) ON DELETE CASCADE,
  public_key BLOB NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'revoked', 'diagnostic')),
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX idx_user_device_user ON user_device (user_id, created_at);

-- Sessions created by completed handshakes (the id is also the REST bearer token).
CREATE TABLE session (
  session_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES app_user (user_id) ON DELETE CASCADE,
  device_id TEXT NOT NULL REFERENCES user_device (device_id) ON DELETE CASCADE,
  tls_fingerprint TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  ttl_seconds INTEGER NOT NULL,
  -- created_at + ttl_seconds * 1000, kept so purging expired sessions is an index range scan.
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX idx_session_device ON session (device_id);
CREATE INDEX idx_session_user ON session (user_id);
CREATE INDEX idx_session_expires ON session (expires_at);

-- History of a device's public keys (registration, rotation, certificate).
CREATE TABLE device_key_event (
  event_id TEXT PRIMARY KEY,
  device_id TEXT NOT NULL REFERENCES user_device (device_id) ON DELETE CASCADE,
  public_key BLOB NOT NULL,
  recorded_at INTEGER NOT NULL
) STRICT;
CREATE INDEX idx_device_key_event_device ON device_key_event (device_id, recorded_at);

-- Chat groups and their members.
CREATE TABLE chat_group (
  group_id TEXT PRIMARY KEY,
  owner_device TEXT NOT NULL REFERENCES user_device (device_id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE group_member (
  group_id TEXT NOT NULL REFERENCES chat_group (group_id) ON DELETE CASCADE,
  device_id TEXT NOT NULL REFERENCES user_device (device_id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
  joined_at INTEGER NOT NULL,
  PRIMARY KEY (group_id, device_id)
) STRICT;
CREATE INDEX idx_group_member_device ON group_member (device_id);

-- Channel routing (upstream kept this in memory only). members is a JSON array
-- of device ids in join order. group_id has no foreign key: a route is routing
-- state, not a group's source of truth.
CREATE TABLE channel_route (
  channel INTEGER PRIMARY KEY,
  members TEXT NOT NULL,
  relay INTEGER NOT NULL CHECK (relay IN (0, 1)),
  group_id TEXT
) STRICT;
CREATE INDEX idx_channel_route_group ON channel_route (group_id);

-- Offline relay queue. position orders each device's queue (FIFO) and is never
-- reused (AUTOINCREMENT), so it doubles as a paging cursor. device_id has no
-- foreign key: federated recipients ("device@domain") are queued too.
CREATE TABLE relay_queue (
  position INTEGER PRIMARY KEY AUTOINCREMENT,
  envelope_id TEXT NOT NULL UNIQUE,
  device_id TEXT NOT NULL,
  payload BLOB NOT NULL,
  deliver_after INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX idx_relay_queue_device ON relay_queue (device_id, position);
CREATE INDEX idx_relay_queue_expires ON relay_queue (expires_at);

-- Last envelope delivered per (entity, channel).
CREATE TABLE inbox_offset (
  entity_id TEXT NOT NULL,
  channel_id TEXT NOT NULL,
  last_envelope_id TEXT,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (entity_id, channel_id)
) STRICT;

-- Versioned server secrets (Noise static keys, admin token hashes).
CREATE TABLE server_secret (
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  secret BLOB NOT NULL,
  public BLOB,
  metadata TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  valid_after INTEGER NOT NULL,
  rotates_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (name, version)
) STRICT;
CREATE INDEX idx_server_secret_active ON server_secret (name, valid_after, expires_at);

-- Idempotency keys of mutating requests.
CREATE TABLE idempotency (
  key TEXT NOT NULL,
  scope TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (key, scope)
) STRICT;
CREATE INDEX idx_idempotency_created ON idempotency (created_at);

-- Known federation peers.
CREATE TABLE federation_peer (
  domain TEXT PRIMARY KEY,
  endpoint TEXT NOT NULL,
  public_key BLOB NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'pending', 'blocked')),
  updated_at INTEGER NOT NULL
) STRICT;

-- Signed events waiting to be delivered to a federation peer.
CREATE TABLE federation_outbox (
  outbox_id TEXT PRIMARY KEY,
  destination_domain TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  payload TEXT NOT NULL,
  public_key BLOB NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX idx_federation_outbox_next_attempt ON federation_outbox (next_attempt_at);

-- Pairing codes issued by a device for adding another device to the account.
CREATE TABLE device_pairing (
  pair_code TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES app_user (user_id) ON DELETE CASCADE,
  issuer_device_id TEXT NOT NULL REFERENCES user_device (device_id) ON DELETE CASCADE,
  issued_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  redeemed_at INTEGER,
  redeemed_device_id TEXT REFERENCES user_device (device_id) ON DELETE SET NULL,
  public_key BLOB,
  attempts INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX idx_device_pairing_user ON device_pairing (user_id);
CREATE INDEX idx_device_pairing_expiry ON device_pairing (expires_at);

-- Small per-user documents (key 'friends').
CREATE TABLE user_blob (
  user_id TEXT NOT NULL REFERENCES app_user (user_id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  payload TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, key)
) STRICT;

-- Audit trail of device key rotations.
CREATE TABLE device_rotation_audit (
  rotation_id TEXT PRIMARY KEY,
  device_id TEXT NOT NULL REFERENCES user_device (device_id) ON DELETE CASCADE,
  old_public_key BLOB NOT NULL,
  new_public_key BLOB NOT NULL,
  signature BLOB NOT NULL,
  nonce BLOB,
  proof_expires_at INTEGER NOT NULL,
  applied_at INTEGER NOT NULL,
  UNIQUE (device_id, new_public_key)
) STRICT;
CREATE INDEX idx_device_rotation_device ON device_rotation_audit (device_id, applied_at DESC);

-- Friend requests (local and federated; user ids may be remote, hence no foreign keys).
CREATE TABLE friend_requests (
  id TEXT PRIMARY KEY,
  from_user_id TEXT NOT NULL,
  to_user_id TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending',
  message TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (from_user_id, to_user_id)
) STRICT;
CREATE INDEX idx_friend_requests_to ON friend_requests (to_user_id);
CREATE INDEX idx_friend_requests_status ON friend_requests (status);
CREATE INDEX idx_friend_requests_created ON friend_requests (created_at);
