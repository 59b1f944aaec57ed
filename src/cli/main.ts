#!/usr/bin/env node
import { CgroupMetricsError, ConfigError } from '../errors.ts';
import { agentCommand } from './agent-command.ts';
import { guardStdStreams } from './agent-log.ts';
import { collectCommand } from './collect-command.ts';
import { AGENT_HELP } from './help.ts';
import { statsCommand } from './stats-command.ts';
import { UsageError } from './usage-error.ts';

/**
 * Runs the command line; returns the exit code: 0 ok, 1 runtime error (or a second signal
 * during shutdown), 2 usage error, 3 the agent stopped with final readings not delivered.
 */
export async function main(argv: string[]): Promise<number> {
  const out = (s: string): void => void process.stdout.write(s);
  try {
    const [cmd, ...rest] = argv;
    if (cmd === 'stats') return statsCommand(rest, out);
    if (cmd === 'collect') return await collectCommand(rest, out);
    if (cmd === 'help') {
      out(AGENT_HELP);
      return 0;
    }
    if (cmd !== undefined && !cmd.startsWith('-')) throw new UsageError(`unknown command ${JSON.stringify(cmd)}; see --help`);
    return await agentCommand(argv);
  } catch (err) {
    const e = err as Error & { code?: string };
    const usage = err instanceof UsageError || err instanceof ConfigError || (typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS'));
    // One line: node:util parseArgs writes some of its messages over several lines.
    process.stderr.write(`otel-cgroup-metrics: ${usage || err instanceof CgroupMetricsError ? e.message.replace(/\s*\n\s*/g, ' ') : (e.stack ?? e.message)}\n`);
    return usage ? 2 : 1;
  }
}

// A closed stdout/stderr (EPIPE) drops what is written to it and never ends the process.
guardStdStreams();
const code = await main(process.argv.slice(2));
// The agent may leave sockets of a failed export behind; the exit code is final.
process.stdout.write('', () => process.exit(code));
