/**
 * `commucat diagnose`: checks an installation without changing it —
 * configuration, key material, storage reachability, integrity and
 * migration state, TLS certificate expiry, the pluggable transport's binary.
 *
 * @module
 */
import { type Config, loadConfig } from "../src/config/mod.ts";
import { readCertificateInfo } from "../src/security/tls/mod.ts";
import { settingsFromConfig, storeSettingsOf } from "../src/server/mod.ts";
import { locatePtBinary } from "../src/transport/pt/mod.ts";
import { openStore } from "../src/storage/mod.ts";
import { type MigrateIo as CliIo, stdIo } from "./migrate.ts";

/** One line of a `diagnose` report. */
export interface DiagnoseCheck {
  name: string;
  ok: boolean;
  /** A warning does not fail the run. */
  warning?: boolean;
  detail: string;
}

const DAY_MS = 86_400_000;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * `diagnose`: configuration, key material, storage reachability and
 * migration state, TLS certificate expiry. Never creates anything.
 */
export async function diagnose(configPath?: string, now = new Date()): Promise<DiagnoseCheck[]> {
  const checks: DiagnoseCheck[] = [];
  let config: Config;
  try {
    config = loadConfig({ path: configPath });
    checks.push({ name: "config", ok: true, detail: "loaded and valid" });
  } catch (error) {
    // ConfigError messages start with "config: ", which the check name already says.
    const detail = (error as Error).message.replace(/^config: /, "");
    checks.push({ name: "config", ok: false, detail });
    return checks;
  }
  const s = settingsFromConfig(config);

  const seedFile = `${s.dataDir}/federation.seed`;
  const noiseFile = `${s.dataDir}/noise_static.key`;
  checks.push(
    s.federationSeed !== null || await exists(seedFile)
      ? {
        name: "device CA key",
        ok: true,
        detail: s.federationSeed !== null ? "crypto.federation_seed" : seedFile,
      }
      : {
        name: "device CA key",
        ok: false,
        detail: `neither crypto.federation_seed nor ${seedFile} (created on first serve)`,
      },
  );
  checks.push(
    s.noiseKey !== null || await exists(noiseFile)
      ? {
        name: "noise static key",
        ok: true,
        detail: s.noiseKey !== null ? "crypto.noise_private" : noiseFile,
      }
      : {
        name: "noise static key",
        ok: false,
        detail: `neither crypto.noise_private nor ${noiseFile} (created on first serve)`,
      },
  );

  try {
    const target = storeSettingsOf(s);
    if (target.backend === "sqlite" && !(await exists(target.path))) {
      throw new Error(`database ${target.path} does not exist`);
    }
    // SQLite: PRAGMA integrity_check, and the WAL read before SQLite replays it.
    const walWarnings: string[] = [];
    const store = await openStore(
      target.backend === "postgres" ? { ...target, poolSize: 1 } : target,
      { integrityCheck: "full", onWarning: (line) => walWarnings.push(line) },
    );
    for (const detail of walWarnings) checks.push({ name: "sqlite wal", ok: false, detail });
    try {
      await store.ping();
    } finally {
      await store.close();
    }
    checks.push({
      name: "storage",
      ok: true,
      detail: store.backend === "sqlite"
        ? "sqlite reachable, integrity_check ok, migrations current"
        : `${store.backend} reachable, migrations current`,
    });
  } catch (error) {
    checks.push({ name: "storage", ok: false, detail: (error as Error).message });
  }

  const certPath = s.tls?.certPath ?? `${s.dataDir}/tls/cert.pem`;
  try {
    const info = await readCertificateInfo(await Deno.readTextFile(certPath));
    const days = Math.floor((info.notAfter.getTime() - now.getTime()) / DAY_MS);
    const detail = `${certPath} expires ${info.notAfter.toISOString()} (${days} day(s))`;
    if (info.notAfter.getTime() <= now.getTime()) {
      checks.push({ name: "tls certificate", ok: false, detail: `${detail}: expired` });
    } else if (days < 14) {
      checks.push({ name: "tls certificate", ok: true, warning: true, detail });
    } else {
      checks.push({ name: "tls certificate", ok: true, detail });
    }
  } catch (error) {
    const self = s.tls === null ? " (a self-signed one is created on first serve)" : "";
    checks.push({
      name: "tls certificate",
      ok: false,
      detail: `${certPath}: ${(error as Error).message}${self}`,
    });
  }
  if (s.pt) {
    // Nothing is run here: the binary is looked up the way `serve` would start it.
    const found = locatePtBinary(s.pt.binary);
    checks.push(
      found
        ? {
          name: "pluggable transport",
          ok: true,
          detail: `${s.pt.transport} via ${found} (serve needs --allow-run=${s.pt.binary}); ` +
            "clients' bridge line: commucat pt bridge-line",
        }
        : {
          name: "pluggable transport",
          ok: false,
          detail: `transport.pt.binary: ${s.pt.binary} not found (install it or give its path)`,
        },
    );
  }
  return checks;
}

/** Prints `checks`; returns the exit code (1 when any failed). */
export function printDiagnosis(checks: DiagnoseCheck[], io: CliIo = stdIo): number {
  for (const c of checks) {
    const mark = !c.ok ? "FAIL" : c.warning ? "WARN" : "ok  ";
    io.write(`${mark}  ${c.name}: ${c.detail}\n`);
  }
  const failed = checks.filter((c) => !c.ok).length;
  io.write(failed === 0 ? "all checks passed\n" : `${failed} check(s) failed\n`);
  return failed === 0 ? 0 : 1;
}
