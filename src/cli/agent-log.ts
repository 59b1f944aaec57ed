import { inspect } from 'node:util';
import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import { failureReason } from '../export/export-watch.ts';
import { RateLimitedLog, type LogLine } from '../rate-limited-log.ts';

const LEVELS: Record<string, DiagLogLevel> = {
  NONE: DiagLogLevel.NONE,
  ERROR: DiagLogLevel.ERROR,
  WARN: DiagLogLevel.WARN,
  INFO: DiagLogLevel.INFO,
  DEBUG: DiagLogLevel.DEBUG,
  VERBOSE: DiagLogLevel.VERBOSE,
  ALL: DiagLogLevel.ALL,
};

/** Longest diagnostic line written (a debug line can carry a whole export). */
const MAX_LINE = 2_000;

function formatArg(a: unknown): string {
  if (a instanceof Error) return failureReason(a);
  if (typeof a === 'string') return a;
  return inspect(a, { depth: 3, breakLength: Infinity, compact: true, maxArrayLength: 10, maxStringLength: 200 });
}

/**
 * Wires OpenTelemetry's diagnostic logger (where the SDK reports what it does not throw: an
 * export that timed out, a collection error) to the agent's log, at the level of
 * OTEL_LOG_LEVEL (none, error, warn, info, debug, verbose, all; default warn). Errors and
 * warnings are rate-limited by their text: the first at once, then at most one line a minute
 * with a count. An unknown level is said, and warn is used.
 */
export function installDiagLogger(log: LogLine, levelText: string | undefined = process.env.OTEL_LOG_LEVEL): DiagLogLevel {
  const wanted = levelText?.trim().toUpperCase();
  let level = DiagLogLevel.WARN;
  if (wanted) {
    const known = LEVELS[wanted];
    if (known === undefined) log(`OTEL_LOG_LEVEL: unknown level ${JSON.stringify(levelText)}, using warn (none, error, warn, info, debug, verbose or all)`);
    else level = known;
  }
  const limited = new RateLimitedLog(log);
  const line = (name: string, message: string, args: unknown[]): string => {
    const text = [message, ...args.map(formatArg)].join(' ').replace(/\s*\n\s*/g, ' ');
    return `otel ${name}: ${text.length > MAX_LINE ? `${text.slice(0, MAX_LINE)}…` : text}`;
  };
  const logger: DiagLogger = {
    error: (m, ...a) => limited.say(`error:${m}`, line('error', m, a)),
    warn: (m, ...a) => limited.say(`warn:${m}`, line('warn', m, a)),
    info: (m, ...a) => log(line('info', m, a)),
    debug: (m, ...a) => log(line('debug', m, a)),
    verbose: (m, ...a) => log(line('verbose', m, a)),
  };
  diag.setLogger(logger, { logLevel: level, suppressOverrideMessage: true });
  return level;
}

/**
 * A closed stdout or stderr (the console exporter piped to `head`, a log pipe that went away)
 * never takes the agent down: the stream's EPIPE (or any write error) is caught, the stream is
 * destroyed, and every later write to it is dropped. A closed stdout is said once on stderr.
 */
export function guardStdStreams(): void {
  let stdoutClosed = false;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (stdoutClosed) return;
    stdoutClosed = true;
    process.stderr.write(
      `otel-cgroup-metrics: stdout is closed (${err.code ?? err.message}): what goes to stdout (the console exporter) is dropped from now on\n`,
    );
  });
  // Nothing is left to say it on: later log lines are dropped.
  process.stderr.on('error', () => undefined);
}
