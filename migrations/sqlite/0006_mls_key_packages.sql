-- MLS key packages (docs/PROTOCOL.md "End-to-end encryption"): KeyPackages a
-- device publishes, each signed by its Ed25519 device key. One-time packages
-- are deleted when handed out; at most one last-resort package per device is
-- handed out without being consumed. `position` orders them (oldest first).
CREATE TABLE mls_key_package (
  position INTEGER PRIMARY KEY,
  device_id TEXT NOT NULL REFERENCES user_device (device_id) ON DELETE CASCADE,
  package_hash BLOB NOT NULL,
  data BLOB NOT NULL,
  device_signature BLOB NOT NULL,
  cipher_suite INTEGER NOT NULL,
  last_resort INTEGER NOT NULL CHECK (last_resort IN (0, 1)),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  UNIQUE (device_id, package_hash)
) STRICT;
CREATE INDEX mls_key_package_take ON mls_key_package (device_id, last_resort, position);
CREATE INDEX mls_key_package_expiry ON mls_key_package (expires_at);
