/**
 * RFC 3339 times with nanosecond precision, as chrono writes and reads them
 * (upstream `created_at`). Parsed straight to BigInt unix nanoseconds: going
 * through `Date` would drop everything below a millisecond and change the
 * signed digest.
 *
 * @module
 */

/** A time string that is not RFC 3339 or not representable as i64 nanoseconds. */
export class TimestampError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TimestampError";
  }
}

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(m) ? 30 : 31;
}

/**
 * Unix nanoseconds of an RFC 3339 time (`2025-03-01T12:00:00.123456789Z`,
 * up to 9 fraction digits, `Z` or `±HH:MM`). Leap seconds (`:60`) are
 * refused; so is anything outside the i64 nanosecond range (1677–2262).
 */
export function parseRfc3339Nanos(text: string): bigint {
  const m = RFC3339.exec(text);
  if (!m) throw new TimestampError(`not an RFC 3339 time: ${JSON.stringify(text.slice(0, 64))}`);
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    throw new TimestampError("RFC 3339 time has an invalid date");
  }
  if (hour > 23 || minute > 59 || second > 59) {
    throw new TimestampError("RFC 3339 time has an invalid time of day");
  }
  let offsetSeconds = 0;
  if (m[9] !== undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) throw new TimestampError("RFC 3339 time has an invalid offset");
    offsetSeconds = (m[9] === "-" ? -1 : 1) * (oh * 3600 + om * 60);
  }
  const fraction = BigInt((m[7] ?? "").padEnd(9, "0"));
  const seconds = daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second -
    offsetSeconds;
  const nanos = BigInt(seconds) * 1_000_000_000n + fraction;
  if (nanos < I64_MIN || nanos > I64_MAX) {
    throw new TimestampError("RFC 3339 time is outside the i64 nanosecond range");
  }
  return nanos;
}

/**
 * RFC 3339 in UTC with `Z`, fraction digits as chrono's `AutoSi`: none, 3, 6
 * or 9 — the fewest that keep the value exact.
 */
export function formatRfc3339Nanos(nanos: bigint): string {
  let seconds = nanos / 1_000_000_000n;
  let fraction = nanos % 1_000_000_000n;
  if (fraction < 0n) {
    fraction += 1_000_000_000n;
    seconds -= 1n;
  }
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  if (fraction === 0n) return `${base}Z`;
  const digits = fraction.toString().padStart(9, "0");
  const kept = fraction % 1_000_000n === 0n ? 3 : fraction % 1_000n === 0n ? 6 : 9;
  return `${base}.${digits.slice(0, kept)}Z`;
}
