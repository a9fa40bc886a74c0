/**
 * Server secret rotation (upstream §15.3): the Noise static keys
 * ({@link NoiseKeyManager}, the handshake's keyring) and hashed admin tokens
 * ({@link AdminTokenManager}), both versioned in the store's `server_secret`
 * rows and ticked by {@link startSecretRotation}.
 *
 * ```ts
 * const rotation = rotationSettingsFromConfig(config);
 * const noise = new NoiseKeyManager({ store, policy: rotation.noise, bootstrapKey });
 * await noise.start();
 * const admin = new AdminTokenManager({ store, policy: rotation.admin, deliverToken });
 * const generated = await admin.bootstrap(config.admin.token);
 * const job = startSecretRotation({ noise, admin }, { logger });
 * ```
 *
 * @module
 */
export {
  NOISE_SECRET_NAME,
  NoiseKeyManager,
  type NoiseKeyManagerOptions,
  type NoiseRotationEvent,
  SecretRotationError,
} from "./noise_keys.ts";
export {
  ADMIN_SALT_LENGTH,
  ADMIN_SECRET_NAME,
  type AdminRotationEvent,
  type AdminTokenInfo,
  type AdminTokenKind,
  AdminTokenManager,
  type AdminTokenManagerOptions,
  hashToken,
  type IssuedAdminToken,
  MAX_ADMIN_TOKEN_LENGTH,
} from "./admin_tokens.ts";
export {
  type AdminRotationPolicy,
  DEFAULT_ROTATION,
  hoursToMs,
  isActiveAt,
  type RotationPolicy,
  type RotationSettings,
  rotationSettingsFromConfig,
} from "./settings.ts";
export { type RotationJob, startSecretRotation, type Tickable } from "./timer.ts";
