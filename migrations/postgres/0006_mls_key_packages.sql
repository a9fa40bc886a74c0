-- MLS key packages (docs/PROTOCOL.md "End-to-end encryption"): KeyPackages a
-- device publishes, each signed by its Ed25519 device key. One-time packages
-- are deleted when handed out (FOR UPDATE SKIP LOCKED: concurrent takers never
-- get the same one); at most one last-resort package per device is handed out
-- without being consumed. `position` orders them (oldest first).
CREATE TABLE mls_key_package (
  position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  device_id TEXT NOT NULL REFERENCES user_device (device_id) ON DELETE CASCADE,
  package_hash BYTEA NOT NULL,
  data BYTEA NOT NULL,
  device_signature BYTEA NOT NULL,
  cipher_suite INTEGER NOT NULL,
  last_resort BOOLEAN NOT NULL,
  created_at TIMESTAMPTZ NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL,
  UNIQUE (device_id, package_hash)
);
CREATE INDEX mls_key_package_take ON mls_key_package (device_id, last_resort, position);
CREATE INDEX mls_key_package_expiry ON mls_key_package (expires_at);
