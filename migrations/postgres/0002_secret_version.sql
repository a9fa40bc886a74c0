-- Highest version ever stored per secret name. Deleting (revoking) a row keeps
-- it here, so a version number an admin token once had is never issued again.
CREATE TABLE secret_version (
  name TEXT PRIMARY KEY,
  latest BIGINT NOT NULL
);
INSERT INTO secret_version (name, latest)
  SELECT name, MAX(version) FROM server_secret GROUP BY name;
