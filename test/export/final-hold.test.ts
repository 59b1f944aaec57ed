/**
 * `--prometheus-final-hold` with the agent as a real process and TWO real Prometheus servers
 * scraping its one endpoint (an HA pair). The endpoint is one reader: without the hold a final
 * reading is on exactly one scrape, so only one of the servers could store it. Two short tasks
 * (real cgroups, a CPU burner each, different burns) end; each server must store each final
 * reading (the kernel's cpuacct.usage after the exit) on at least two of its scrapes. Then one
 * id is made again, within the hold, with an idle process: its live series (near 0 s of CPU)
 * replaces the held final (the burn): after its first live sample no server stores the held
 * value again, and no scrape fails (two series alike would make Prometheus reject the page).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, test } from 'node:test';
import { AgentProcess, CLI, stopAllAgents } from '../helpers/otlp-receiver.ts';
import { freePort, startPrometheus, type PrometheusPeer } from '../helpers/peers.ts';
import { TaskNamespace } from '../helpers/task-cgroups.ts';

after(stopAllAgents);

const HOLD_MS = 20_000;
const BURNS_MS: ReadonlyArray<[string, number]> = [
  ['a', 300],
  ['b', 700],
];

/** Per scrape (one timestamp), the sum of the task's container_cpu_time_seconds_total series, as stored by `prom`. */
async function storedCpu(prom: PrometheusPeer, ns: string, id: string): Promise<Array<{ t: number; v: number }>> {
  const query = `container_cpu_time_seconds_total{container_namespace="${ns}",container_id="${id}"}[10m]`;
  const res = await fetch(`${prom.url}/api/v1/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ query }).toString(),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { status: string; error?: string; data?: { result: Array<{ values: Array<[number, string]> }> } };
  assert.equal(body.status, 'success', `${query}: ${body.error}`);
  const byTime = new Map<number, number>();
  for (const s of body.data?.result ?? []) for (const [t, v] of s.values) byTime.set(t, (byTime.get(t) ?? 0) + Number(v));
  return [...byTime].sort((x, y) => x[0] - y[0]).map(([t, v]) => ({ t, v }));
}

const isFinal = (v: number, final: number): boolean => Math.abs(v - final) < 1e-6;

test('two Prometheus servers scrape one agent with --prometheus-final-hold: each stores each final reading; a re-added id replaces the held one', {
  timeout: 180_000,
}, async (t) => {
  const ns = new TaskNamespace('ocm-hold');
  const port = await freePort();
  const agent = new AgentProcess([
    '-v',
    '--exporter',
    'prometheus',
    '--prometheus-host',
    '127.0.0.1',
    '--prometheus-port',
    String(port),
    '--prometheus-final-hold',
    String(HOLD_MS),
    '--layouts=',
    '--layout-pattern',
    ns.pattern,
    '--groups',
    'cpu',
  ]);
  const proms: PrometheusPeer[] = [];
  const idle: Array<{ kill(): void }> = [];
  t.after(async () => {
    for (const p of idle) p.kill();
    await agent.stop();
    for (const p of proms) await p.stop();
    await ns.cleanup();
  });
  assert.ok(CLI);
  await agent.prometheusUrl();
  for (let i = 0; i < 2; i++) proms.push(await startPrometheus({ scrapeTargets: [`127.0.0.1:${port}`], scrapeIntervalS: 1 }));
  await Promise.all(proms.map((p) => p.waitForSeries('up == 1', undefined, 30_000)));

  // Two short tasks, one after the other: each burns, exits, gets its final reading, and its
  // directories are removed (as runc does).
  const finals = new Map<string, { cpuS: number; atMs: number }>();
  for (const [id, ms] of BURNS_MS) {
    const { stop, cpuS } = await ns.burnToFinal(agent, id, ms);
    assert.equal(stop[2], 'read', `the final reading of ${id} was read at its exit: ${stop[0]}`);
    finals.set(id, { cpuS, atMs: Date.now() });
    await ns.remove(id);
  }
  const finalA = finals.get('a')?.cpuS as number;
  const finalB = finals.get('b')?.cpuS as number;
  assert.ok(finalB - finalA > 0.2, `the two finals differ (${finalA} s, ${finalB} s)`);

  // Each server stores each final reading, on at least two of its scrapes (one reader without
  // the hold: one scrape in all, so one server at most).
  const stored = async (): Promise<number[][]> =>
    Promise.all(
      proms.flatMap((p) =>
        BURNS_MS.map(async ([id]) => (await storedCpu(p, ns.name, id)).filter((s) => isFinal(s.v, finals.get(id)?.cpuS as number)).map((s) => s.t)),
      ),
    );
  let counts: number[][] = [];
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 500))) {
    counts = await stored();
    if (counts.every((c) => c.length >= 2)) break;
  }
  const label = ['server 1 / a', 'server 1 / b', 'server 2 / a', 'server 2 / b'];
  console.log(
    `# final readings a ${finalA.toFixed(6)} s, b ${finalB.toFixed(6)} s; scrapes storing them: ${counts.map((c, i) => `${label[i]} ${c.length}`).join(', ')}`,
  );
  for (const [i, c] of counts.entries()) {
    assert.ok(c.length >= 2, `${label[i]}: the final reading is on ${c.length} scrape(s); the hold shows it to every scrape for ${HOLD_MS} ms`);
  }

  // Task a is made again within the hold, with an idle process: its live series replaces the held final.
  const reAddedAt = Date.now();
  assert.ok(
    reAddedAt - (finals.get('a')?.atMs as number) < HOLD_MS - 5_000,
    'the re-add falls within the hold of the first final (else the test proves nothing)',
  );
  ns.make('a');
  const sleeper = spawn('sleep', ['120'], { stdio: 'ignore' });
  idle.push({ kill: () => sleeper.kill('SIGKILL') });
  ns.enter('a', sleeper.pid as number);
  const liveBelow = finalA / 10;
  let series: Array<Array<{ t: number; v: number }>> = [];
  for (const deadline = Date.now() + 20_000; ; await new Promise((r) => setTimeout(r, 500))) {
    series = await Promise.all(proms.map((p) => storedCpu(p, ns.name, 'a')));
    // Three live samples on each server after the re-add.
    if (series.every((s) => s.filter((x) => x.t * 1000 > reAddedAt && x.v < liveBelow).length >= 3)) break;
    if (Date.now() > deadline)
      assert.fail(`the re-added task's live series (< ${liveBelow} s of CPU) did not reach both servers: ${JSON.stringify(series.map((s) => s.slice(-8)))}`);
  }
  series.forEach((s, i) => {
    const firstLive = s.findIndex((x) => x.t * 1000 > reAddedAt && x.v < liveBelow);
    const heldAfter = s.slice(firstLive).filter((x) => isFinal(x.v, finalA));
    assert.deepEqual(heldAfter, [], `server ${i + 1}: the held final of a was stored after the re-added task's live series appeared`);
    assert.ok(
      s.slice(firstLive).every((x) => x.v < liveBelow),
      `server ${i + 1}: after the re-add only the new incarnation's values (${JSON.stringify(s.slice(firstLive))})`,
    );
  });
  // No scrape failed: a page with two series alike would have been rejected.
  for (const [i, p] of proms.entries()) {
    const up = await storedUp(p);
    assert.equal(up.failed, 0, `server ${i + 1}: ${up.failed} of ${up.total} scrapes failed (up == 0)`);
  }
});

/** Scrapes of the agent over the last 10 minutes that failed (up == 0), of all. */
async function storedUp(prom: PrometheusPeer): Promise<{ failed: number; total: number }> {
  const [failed] = await prom.query('count_over_time(up[10m]) - sum_over_time(up[10m])');
  const [total] = await prom.query('count_over_time(up[10m])');
  return { failed: Number(failed?.value[1] ?? 0), total: Number(total?.value[1] ?? 0) };
}
