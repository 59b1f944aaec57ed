import { ConfigError } from './errors.ts';

/** The longest delay a Node timer holds: setTimeout/setInterval turn anything longer into 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface IntegerRange {
  min: 0 | 1;
  max?: number;
  /** Named in the message: `(ms)`. */
  unit?: string;
  /**
   * A duration that ends up in a timer: at most MAX_TIMER_MS, and a value past it is refused
   * as such (a longer one would fire after 1 ms).
   */
  duration?: boolean;
}

/**
 * A setting's integer value (a flag, an OTEL_* variable, a config-file key), within `range`:
 * decimal digits only (no sign, blank, `0x`, exponent or fraction). Anything else is a
 * ConfigError naming the setting: `--interval must be a positive integer, got "1.5"`. `what`
 * is how the user wrote the setting.
 */
export function integerSetting(text: string, what: string, range: IntegerRange): number {
  const n = /^\d{1,20}$/.test(text) ? Number(text) : Number.NaN;
  const max = range.duration ? Math.min(range.max ?? MAX_TIMER_MS, MAX_TIMER_MS) : range.max;
  if (n >= range.min && (max === undefined || n <= max)) return n;
  if (range.duration && n > MAX_TIMER_MS) throw new ConfigError(`${what} ${text} is longer than ${MAX_TIMER_MS} ms (24.8 days), the longest a timer can wait`);
  const want = range.max !== undefined ? `${range.min}-${range.max}` : range.min === 1 ? 'a positive integer' : 'a non-negative integer';
  throw new ConfigError(`${what} must be ${want}${range.unit ? ` (${range.unit})` : ''}, got ${JSON.stringify(text)}`);
}

/** A duration setting in ms: integerSetting with `duration`. */
export function durationSetting(text: string, what: string, min: 0 | 1 = 1, unit?: string): number {
  return integerSetting(text, what, { min, duration: true, ...(unit ? { unit } : {}) });
}

/**
 * A library option that is a duration in ms (`collectTimeoutMs`, `rescanIntervalMs`): a finite
 * number from `min` to MAX_TIMER_MS, else a ConfigError naming the option.
 */
export function durationOption(value: number, name: string, min = 1): number {
  if (typeof value === 'number' && value >= min && value <= MAX_TIMER_MS) return value;
  throw new ConfigError(`${name} must be a number of ms from ${min} to ${MAX_TIMER_MS} (the longest a timer can wait), got ${String(value)}`);
}
