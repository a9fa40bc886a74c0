/**
 * A throwaway self-signed certificate for localhost (openssl), for the
 * benches that run TLS servers of their own (pump_floor.ts, loopback_floor.ts).
 *
 * @module
 */

/** Where the certificate and its key were written, and the certificate's PEM. */
export interface LocalhostCertificate {
  /** The temporary directory holding both files (the caller removes it). */
  dir: string;
  certPath: string;
  keyPath: string;
  pem: string;
}

/** A throwaway self-signed certificate for localhost (openssl). */
export async function makeCertificate(): Promise<LocalhostCertificate> {
  const dir = await Deno.makeTempDir();
  const certPath = `${dir}/cert.pem`;
  const keyPath = `${dir}/key.pem`;
  const made = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      keyPath,
      "-out",
      certPath,
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
    ],
    stdout: "null",
    stderr: "null",
  }).output();
  if (!made.success) throw new Error("openssl could not make a certificate");
  return { dir, certPath, keyPath, pem: await Deno.readTextFile(certPath) };
}
