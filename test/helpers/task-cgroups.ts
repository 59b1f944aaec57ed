/**
 * Real task cgroups for the agent tests, made as runc makes them on this hybrid host: a
 * namespace directory in the v1 cpu, cpuacct, memory and pids hierarchies and in the cgroup2
 * mount, and under it one directory per task (the v1 ones first, then the cgroup2 twin whose
 * cgroup.events says `populated 0` when the task's last process exits). The agent finds them
 * with `--layouts= --layout-pattern <pattern>` (this namespace only: cgroups of other tests
 * change nothing). Root and the hybrid mounts are needed; without them the constructor fails
 * saying so (never a skip).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { requireV1, sleep, spawnBurner } from '../metrics/helpers.ts';
import type { AgentProcess } from './otlp-receiver.ts';

const CG = '/sys/fs/cgroup';
const V1 = ['cpu', 'cpuacct', 'memory', 'pids'] as const;
const UNIFIED = `${CG}/unified`;

export class TaskNamespace {
  readonly name: string;
  /** The agent's `--layout-pattern` for this namespace's tasks. */
  readonly pattern: string;
  private readonly tasks = new Set<string>();

  constructor(prefix: string) {
    requireV1(V1);
    assert.ok(fs.existsSync(`${UNIFIED}/cgroup.controllers`), `these tests need the cgroup2 mount of a hybrid host at ${UNIFIED}`);
    this.name = `${prefix}-${randomBytes(5).toString('hex')}`;
    this.pattern = `^/(?<namespace>${this.name})/(?<id>[^/]+)$`;
    for (const r of this.roots()) fs.mkdirSync(r);
  }

  private roots(): string[] {
    return [...V1.map((c) => `${CG}/${c}/${this.name}`), `${UNIFIED}/${this.name}`];
  }

  /** mkdir of task `id` in every hierarchy, v1 first, the cgroup2 twin last (runc's order). */
  make(id: string): void {
    for (const r of this.roots()) fs.mkdirSync(path.join(r, id));
    this.tasks.add(id);
  }

  /** Moves `pid` into task `id` in every hierarchy. */
  enter(id: string, pid: number): void {
    for (const r of this.roots()) fs.writeFileSync(path.join(r, id, 'cgroup.procs'), `${pid}\n`);
  }

  /** The kernel's exact CPU time of task `id` (cpuacct.usage), in seconds. */
  cpuSeconds(id: string): number {
    return Number(fs.readFileSync(`${CG}/cpuacct/${this.name}/${id}/cpuacct.usage`, 'utf8').trim()) / 1e9;
  }

  /** rmdir of task `id` everywhere (retried while the kernel still holds an exiting process). */
  /**
   * Makes task `id`, waits for `agent` (run with -v) to add it, burns `ms` of CPU in it and waits
   * for the agent's final reading at its exit; returns that log line's match (2: the source) and
   * the kernel's CPU seconds after the exit (the counters of an empty cgroup no longer move).
   */
  async burnToFinal(agent: AgentProcess, id: string, ms: number): Promise<{ stop: RegExpMatchArray; cpuS: number }> {
    this.make(id);
    await agent.waitForStderr(new RegExp(`task ${this.name}/${id} added`), 10_000);
    const burner = await spawnBurner(ms);
    this.enter(id, burner.pid);
    await burner.burn();
    const stop = await agent.waitForStderr(new RegExp(`task ${this.name}/${id} stopped \\((\\w+)\\): final reading (\\S+)`), 10_000);
    return { stop, cpuS: this.cpuSeconds(id) };
  }

  async remove(id: string): Promise<void> {
    for (const r of this.roots()) {
      const dir = path.join(r, id);
      for (let attempt = 0; fs.existsSync(dir); attempt++) {
        try {
          fs.rmdirSync(dir);
        } catch (err) {
          if (attempt >= 100) throw new Error(`could not remove ${dir}: ${(err as Error).message}`);
          await sleep(20);
        }
      }
    }
    this.tasks.delete(id);
  }

  /** Removes every task left, then the namespace directories. */
  async cleanup(): Promise<void> {
    for (const id of [...this.tasks]) await this.remove(id).catch(() => undefined);
    for (const r of this.roots()) {
      try {
        fs.rmdirSync(r);
      } catch {
        // already gone
      }
    }
  }
}
