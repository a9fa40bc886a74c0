-- Device post-quantum public keys (docs/PROTOCOL.md "Device post-quantum keys"):
-- an ML-KEM-768 and an ML-DSA-65 public key a device publishes, signed by its
-- Ed25519 device key (the key current when it was published). One row per device.
-- Upstream's table of the same name had no signature and no endpoint.
CREATE TABLE device_pq_keys (
  device_id TEXT PRIMARY KEY REFERENCES user_device (device_id) ON DELETE CASCADE,
  kem_public BYTEA NOT NULL,
  signature_public BYTEA NOT NULL,
  device_signature BYTEA NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL
);
