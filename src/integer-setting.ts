import { ConfigError } from './errors.ts';

export interface IntegerRange {
  min: 0 | 1;
  max?: number;
  /** Named in the message: `(ms)`. */
  unit?: string;
}

/**
 * A setting's integer value (a flag, an OTEL_* variable, a config-file key), within `range`.
 * Anything else is a ConfigError naming the setting: `--interval must be a positive integer,
 * got "1.5"`. `what` is how the user wrote the setting.
 */
export function integerSetting(text: string, what: string, range: IntegerRange): number {
  const n = Number(text);
  if (Number.isInteger(n) && n >= range.min && (range.max === undefined || n <= range.max)) return n;
  const want = range.max !== undefined ? `${range.min}-${range.max}` : range.min === 1 ? 'a positive integer' : 'a non-negative integer';
  throw new ConfigError(`${what} must be ${want}${range.unit ? ` (${range.unit})` : ''}, got ${JSON.stringify(text)}`);
}
