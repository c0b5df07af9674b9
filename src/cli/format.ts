// Human formats of `wg show`, reproduced exactly (wireguard-tools src/show.c, pretty_print):
// colours and wg's way of stripping them, durations, "ago", and byte sizes with C's `%.2f`.

export const RESET = '\x1b[0m';
export const BOLD = '\x1b[1m';
export const FG_RED = '\x1b[31m';
export const FG_GREEN = '\x1b[32m';
export const FG_YELLOW = '\x1b[33m';
export const FG_CYAN = '\x1b[36m';

/**
 * wg's colour decision: WG_COLOR_MODE exactly `always` → on, exactly `never` → off, anything else
 * → on iff stdout is a terminal.
 */
export function colorMode(env: NodeJS.ProcessEnv, stdoutIsTTY: boolean): boolean {
  const v = env['WG_COLOR_MODE'];
  if (v === 'always') return true;
  if (v === 'never') return false;
  return stdoutIsTTY;
}

function isAsciiAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/**
 * wg's filter_ansi for one formatted chunk when colour is off: every `ESC [` that starts before
 * the last two characters is deleted up to and including the next ASCII letter (or to the end).
 * Applied per chunk, as wg applies it per terminal_printf call.
 */
export function stripAnsi(chunk: string): string {
  const len = chunk.length;
  let out = '';
  let last = 0;
  for (let from = 0; ; ) {
    const esc = chunk.indexOf('\x1b[', from);
    if (esc < 0 || esc >= len - 2) break;
    let j = esc + 2;
    while (j < len && !isAsciiAlpha(chunk.charCodeAt(j))) j++;
    out += chunk.slice(last, esc);
    last = from = j + 1;
  }
  return last === 0 ? chunk : out + chunk.slice(last);
}

/** A writer of terminal_printf chunks: coloured as they are, or filtered like wg. */
export function terminal(color: boolean): (chunk: string) => string {
  return color ? (chunk) => chunk : stripAnsi;
}

const MINUTE = 60n;
const HOUR = 60n * MINUTE;
const DAY = 24n * HOUR;
/** wg's year: 365 days, leap days ignored. */
const YEAR = 365n * DAY;

/** wg's pretty_time: non-zero components among years, days, hours, minutes, seconds. Empty for 0. */
export function prettyTime(total: bigint): string {
  const parts: Array<[bigint, string]> = [
    [total / YEAR, 'year'],
    [(total % YEAR) / DAY, 'day'],
    [(total % DAY) / HOUR, 'hour'],
    [(total % HOUR) / MINUTE, 'minute'],
    [total % MINUTE, 'second'],
  ];
  return parts
    .filter(([n]) => n !== 0n)
    .map(([n, unit]) => `${n} ${FG_CYAN}${unit}${n === 1n ? '' : 's'}${RESET}`)
    .join(', ');
}

/** The current Unix time in whole seconds, like time(NULL). */
export function nowSeconds(): bigint {
  return BigInt(Math.floor(Date.now() / 1000));
}

/** wg's ago(): `Now`, the clock-backward sentence, or `<duration> ago`. */
export function ago(sec: bigint, now: bigint = nowSeconds()): string {
  if (now === sec) return 'Now';
  if (now < sec) return `(${FG_RED}System clock wound backward; connection problems may ensue.${RESET})`;
  return `${prettyTime(now - sec)} ago`;
}

/** wg's every(): `every <duration>` for a keepalive interval. */
export function every(seconds: number): string {
  return `every ${prettyTime(BigInt(seconds))}`;
}

/** The exact value of a finite double as mantissa · 2^exponent. */
function decompose(x: number): { mantissa: bigint; exponent: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  const fraction = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (biased === 0) return { mantissa: fraction, exponent: -1074 };
  return { mantissa: fraction | (1n << 52n), exponent: biased - 1075 };
}

/**
 * C's printf("%.2f", x) for a finite non-negative double: the exact binary value rounded to
 * two decimals, half to even (glibc in the default rounding mode). JavaScript's toFixed rounds
 * the same ties up: 1.125 → "1.13" there, "1.12" here, as in wg.
 */
export function fixed2(x: number): string {
  const { mantissa, exponent } = decompose(x);
  let hundredths: bigint;
  if (exponent >= 0) {
    hundredths = mantissa * 100n * (1n << BigInt(exponent));
  } else {
    const num = mantissa * 100n;
    const den = 1n << BigInt(-exponent);
    hundredths = num / den;
    const twice = 2n * (num % den);
    if (twice > den || (twice === den && hundredths % 2n === 1n)) hundredths += 1n;
  }
  const frac = (hundredths % 100n).toString().padStart(2, '0');
  return `${hundredths / 100n}.${frac}`;
}

const KIB = 1024n;

/** wg's bytes(): B below 1 KiB, then KiB, MiB, GiB, and TiB for everything larger. */
export function bytes(b: bigint): string {
  const unit = (u: string) => ` ${FG_CYAN}${u}${RESET}`;
  if (b < KIB) return `${b}${unit('B')}`;
  // (double)b first, then exact divisions by powers of two, as the C code does.
  const d = Number(b);
  if (b < KIB ** 2n) return `${fixed2(d / 1024)}${unit('KiB')}`;
  if (b < KIB ** 3n) return `${fixed2(d / (1024 * 1024))}${unit('MiB')}`;
  if (b < KIB ** 4n) return `${fixed2(d / (1024 * 1024 * 1024))}${unit('GiB')}`;
  return `${fixed2(d / (1024 * 1024 * 1024) / 1024)}${unit('TiB')}`;
}
