#!/usr/bin/env node
import { CgroupMetricsError } from '../errors.ts';
import { statsCommand } from './stats-command.ts';
import { UsageError } from './usage-error.ts';

const HELP = `Usage: otel-cgroup-metrics <command> [options]

Commands:
  stats CGROUP    print what the reader sees for one cgroup (see: stats --help)
`;

/** Runs the command line; returns the exit code: 0 ok, 1 runtime error, 2 usage error. */
export async function main(argv: string[]): Promise<number> {
  const out = (s: string): void => void process.stdout.write(s);
  try {
    const [cmd, ...rest] = argv;
    if (cmd === 'stats') return statsCommand(rest, out);
    if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
      out(HELP);
      return cmd === undefined ? 2 : 0;
    }
    throw new UsageError(`unknown command ${JSON.stringify(cmd)}; see --help`);
  } catch (err) {
    const e = err as Error & { code?: string };
    const usage = err instanceof UsageError || (typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS'));
    process.stderr.write(`otel-cgroup-metrics: ${usage || err instanceof CgroupMetricsError ? e.message : (e.stack ?? e.message)}\n`);
    return usage ? 2 : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
