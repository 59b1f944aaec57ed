/**
 * The agent as a real process with several readers at once, each of which must get every
 * final reading:
 *
 *  - SIGTERM with `--exporter otlp,console` flushes through BOTH push exporters: one OTLP
 *    push and one console print, each with every task's final values;
 *  - `--exporter prometheus,otlp`: short tasks (real cgroups, a CPU burner each) end while the
 *    agent runs; the Prometheus endpoint (scraped by the test) and the OTLP collector each get
 *    each task's final reading (its last point is the kernel's cpuacct.usage after the exit),
 *    then the task's series are gone from both.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { AFTER_EXIT, LOADED, TempV2Tree, V2 } from '../metrics/helpers.ts';
import { AgentProcess, OtlpReceiver, httpGet, pointsOf, promAndOtlpFlags, stopAllAgents } from '../helpers/otlp-receiver.ts';
import { freePort } from '../helpers/peers.ts';
import { parseExposition } from '../helpers/runtimes.ts';
import { TaskNamespace } from '../helpers/task-cgroups.ts';

after(stopAllAgents);

/** The container.cpu.time values of `id` in each console print (ConsoleMetricExporter: console.dir of each metric). */
function consoleCpu(stdout: string, id: string): Array<{ user?: number; system?: number }> {
  const blocks = stdout.split(/^\{$/m).filter((b) => b.includes("name: 'container.cpu.time'"));
  return blocks.map((b) => {
    const out: { user?: number; system?: number } = {};
    const re = /'container\.id': '([^']*)',[^}]*'cpu\.mode': '(user|system)'\s*\},\s*value: ([0-9.e+-]+)/g;
    for (let m = re.exec(b); m; m = re.exec(b)) if (m[1] === id) out[m[2] as 'user' | 'system'] = Number(m[3]);
    return out;
  });
}

test('SIGTERM with --exporter otlp,console: the final readings go out through both exporters, once each; exit 0', async (t) => {
  const tree = new TempV2Tree();
  tree.addCgroup('a'); // the fixture `loaded`
  tree.addCgroup('b', V2.afterExit);
  const rx = await OtlpReceiver.start();
  const agent = new AgentProcess([
    '--exporter',
    'otlp,console',
    '--otlp-endpoint',
    rx.url,
    '--interval',
    '60000',
    '--root',
    tree.root,
    '--task',
    'default/a=/a',
    '--task',
    'default/b=/b',
    '--no-discovery',
    '--groups',
    'cpu',
  ]);
  t.after(async () => {
    await agent.stop();
    await rx.close();
    tree.cleanup();
  });
  await agent.waitForStderr(/pushing OTLP/);
  assert.equal(rx.requests.length, 0, 'nothing pushed before the signal (the interval is 60 s)');
  assert.deepEqual(consoleCpu(agent.stdout, 'a'), [], 'nothing printed before the signal');
  agent.child.kill('SIGTERM');
  const { code, signal } = await agent.waitForExit(15_000);
  assert.equal(signal, null);
  assert.equal(code, 0, agent.stderr);
  const lines = agent.stderrLines();
  assert.equal(lines[lines.length - 1], 'otel-cgroup-metrics: stopped 2 task(s); every final reading delivered');

  // OTLP: one push, both tasks' final values.
  assert.equal(rx.accepted.length, 1, 'one OTLP push: the final one');
  const cpu = pointsOf(rx.last().body, 'container.cpu.time');
  const otlp = (id: string, mode: string): number[] =>
    cpu.filter((p) => p.attributes['container.id'] === id && p.attributes['cpu.mode'] === mode).map((p) => p.value);
  assert.deepEqual(otlp('a', 'user'), [LOADED.cpuUser]);
  assert.deepEqual(otlp('a', 'system'), [LOADED.cpuSystem]);
  assert.deepEqual(otlp('b', 'user'), [AFTER_EXIT.cpuUser]);
  assert.deepEqual(otlp('b', 'system'), [AFTER_EXIT.cpuSystem]);

  // Console: one print, the same final values.
  assert.deepEqual(consoleCpu(agent.stdout, 'a'), [{ user: LOADED.cpuUser, system: LOADED.cpuSystem }], `console output:\n${agent.stdout.slice(0, 2000)}`);
  assert.deepEqual(consoleCpu(agent.stdout, 'b'), [{ user: AFTER_EXIT.cpuUser, system: AFTER_EXIT.cpuSystem }]);
});

test('--exporter prometheus,otlp: short tasks end while the agent runs; the endpoint and the collector each get every final reading', {
  timeout: 120_000,
}, async (t) => {
  const ns = new TaskNamespace('ocm-readers');
  const rx = await OtlpReceiver.start();
  const port = await freePort();
  const agent = new AgentProcess(['-v', ...promAndOtlpFlags(port, rx.url, 700), '--layouts=', '--layout-pattern', ns.pattern, '--groups', 'cpu']);
  let scraping = true;
  t.after(async () => {
    scraping = false;
    await agent.stop();
    await rx.close();
    await ns.cleanup();
  });
  const url = await agent.prometheusUrl();
  await agent.waitForStderr(/pushing OTLP/);

  // The test scrapes the endpoint every 300 ms (one Prometheus reader), keeping every page.
  const pages: string[] = [];
  let scrapeErrors = 0;
  const scraper = (async () => {
    while (scraping) {
      try {
        pages.push((await httpGet(url)).body);
      } catch {
        scrapeErrors++;
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  })();

  // Three short tasks, burning different amounts, two of them at once.
  const BURNS: ReadonlyArray<[string, number]> = [
    ['s1', 200],
    ['s2', 450],
    ['s3', 300],
  ];
  const finals = new Map<string, number>();
  await Promise.all(
    BURNS.map(async ([id, ms], i) => {
      await new Promise((r) => setTimeout(r, i * 150));
      const { stop, cpuS } = await ns.burnToFinal(agent, id, ms);
      assert.equal(stop[2], 'read', stop[0]);
      finals.set(id, cpuS);
      await ns.remove(id);
    }),
  );
  // A few more pushes and scrapes: every final delivered, then absent.
  const pushesAtEnd = rx.accepted.length;
  await rx.waitForCount(pushesAtEnd + 3, 10_000, 'three more pushes');
  const pagesAtEnd = pages.length;
  for (const deadline = Date.now() + 10_000; pages.length < pagesAtEnd + 3 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 100));
  scraping = false;
  await scraper;
  assert.equal(scrapeErrors, 0, 'every scrape answered');

  const promTotals = pages.map((page) => {
    const m = new Map<string, number>();
    for (const s of parseExposition(page))
      if (s.name === 'container_cpu_time_seconds_total' && s.labels.container_namespace === ns.name)
        m.set(s.labels.container_id as string, (m.get(s.labels.container_id as string) ?? 0) + s.value);
    return m;
  });
  const otlpTotals = rx.accepted.map((r) => {
    const m = new Map<string, number>();
    for (const p of pointsOf(r.body, 'container.cpu.time'))
      if (p.attributes['container.namespace'] === ns.name)
        m.set(p.attributes['container.id'] as string, (m.get(p.attributes['container.id'] as string) ?? 0) + p.value);
    return m;
  });
  for (const [reader, totals] of [
    ['prometheus', promTotals],
    ['otlp', otlpTotals],
  ] as const) {
    for (const [id, final] of finals) {
      let last = -1;
      totals.forEach((m, i) => {
        if (m.has(id)) last = i;
      });
      assert.ok(last >= 0, `${reader}: ${id} was never exported`);
      const value = totals[last]?.get(id) as number;
      console.log(
        `# ${reader}: ${id} last exported ${value.toFixed(6)} s (collection ${last + 1} of ${totals.length}); kernel after the exit ${final.toFixed(6)} s`,
      );
      assert.ok(
        Math.abs(value - final) < 1e-6,
        `${reader}: the last point of ${id} is ${value} s, its final reading (cpuacct.usage after the exit) ${final} s`,
      );
      assert.ok(last < totals.length - 1, `${reader}: ${id}'s series are gone after its final reading`);
      assert.ok(!totals.slice(last + 1).some((m) => m.has(id)), `${reader}: ${id} exported again after its final reading`);
    }
  }
});
