import fc from 'fast-check';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseConfigFile } from '../../src/cli/config-file.ts';
import { AGENT_OPTIONS, NOT_IN_CONFIG_FILE, type OptionTable } from '../../src/cli/flags.ts';
import { UsageError } from '../../src/cli/usage-error.ts';
import { AgentProcess, httpGet, stopAllAgents } from '../helpers/otlp-receiver.ts';
import { freePort } from '../helpers/peers.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(repo, 'dist/cli/main.js');
const V2_LOADED = path.join(repo, 'test/fixtures/cgroup-v2-kernel-6.18/loaded');
const OPTIONS: OptionTable = AGENT_OPTIONS;
const REFUSED: readonly string[] = NOT_IN_CONFIG_FILE;
const parse = (text: string): ReturnType<typeof parseConfigFile> => parseConfigFile(text, 'agent.json', OPTIONS, REFUSED);

describe('parseConfigFile', () => {
  test('strings, numbers as their text, booleans, lists (one string is a list of one)', () => {
    assert.deepEqual(
      parse('{"layouts": "containerd,docker", "prometheus-port": 9464, "verbose": true, "layout-pattern": "^/a/(?<id>[^/]+)$", "otlp-header": ["a=1", "b=2"]}'),
      {
        layouts: 'containerd,docker',
        'prometheus-port': '9464',
        verbose: true,
        'layout-pattern': ['^/a/(?<id>[^/]+)$'],
        'otlp-header': ['a=1', 'b=2'],
      },
    );
    assert.deepEqual(parse('{}'), {});
  });

  test('bad input: a UsageError naming the file and the key, with what is expected', () => {
    const refused = (text: string, re: RegExp): void =>
      assert.throws(
        () => parse(text),
        (e: unknown) => e instanceof UsageError && re.test(e.message),
        text,
      );
    refused('{"layouts": ', /^--config agent\.json: not valid JSON/);
    refused('["--layouts"]', /expected a JSON object of flags/);
    refused('null', /expected a JSON object of flags/);
    refused('{"layout_pattern": "x"}', /unknown key "layout_pattern"; keys are the agent's long flags without --: .*layout-pattern/);
    refused('{"config": "other.json"}', /unknown key "config"/);
    refused('{"__proto__": "x"}', /unknown key "__proto__"/);
    refused('{"toString": "x"}', /unknown key "toString"/);
    refused('{"verbose": "yes"}', /"verbose" must be true or false, got "yes"/);
    refused('{"prometheus-port": true}', /"prometheus-port" must be a string or a number, got true/);
    refused('{"prometheus-port": {"n": 1}}', /"prometheus-port" must be a string or a number/);
    refused('{"layout-pattern": [1, null]}', /"layout-pattern" must be a string or a list of strings/);
  });

  test('property: any valid configuration comes back as the flags it says', () => {
    const entries = Object.entries(OPTIONS).filter(([k]) => !REFUSED.includes(k));
    const value = (o: OptionTable[string]): fc.Arbitrary<unknown> =>
      o.type === 'boolean' ? fc.boolean() : o.multiple ? fc.array(fc.string(), { maxLength: 4 }) : fc.oneof(fc.string(), fc.integer());
    const config = fc.record(Object.fromEntries(entries.map(([k, o]) => [k, value(o)])), { requiredKeys: [] });
    fc.assert(
      fc.property(config, (c) => {
        const got = parse(JSON.stringify(c));
        const want = Object.fromEntries(Object.entries(c).map(([k, v]) => [k, typeof v === 'number' ? String(v) : v]));
        assert.deepEqual(got, want);
      }),
    );
  });

  test('property: any text, any JSON value: flags or a UsageError, nothing else', () => {
    const only = (text: string): void => {
      try {
        parse(text);
      } catch (e) {
        assert.ok(e instanceof UsageError, `${String(e)} for ${JSON.stringify(text)}`);
      }
    };
    fc.assert(fc.property(fc.string(), only));
    fc.assert(fc.property(fc.json(), only));
    fc.assert(fc.property(fc.dictionary(fc.constantFrom(...Object.keys(OPTIONS), 'nope'), fc.jsonValue()), (d) => only(JSON.stringify(d))));
  });
});

describe('the agent with --config', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ocm-config-'));
  after(async () => {
    await stopAllAgents();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test("discovers by the file's custom layout and serves on the port given on the command line (flags win)", async () => {
    // A cgroup2-shaped tree (the v2 fixture's files) with a task at /jobs/tenant-a/j1.
    const root = path.join(tmp, 'root');
    fs.cpSync(V2_LOADED, root, { recursive: true });
    fs.cpSync(V2_LOADED, path.join(root, 'jobs/tenant-a/j1'), { recursive: true });
    const [filePort, cliPort] = [await freePort(), await freePort()];
    const file = path.join(tmp, 'agent.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        root,
        layouts: '',
        'layout-pattern': ['^/jobs/(?<namespace>[^/]+)/(?<id>[^/]+)$'],
        'prometheus-host': '127.0.0.1',
        'prometheus-port': filePort,
        verbose: true,
      }),
    );
    const agent = new AgentProcess(['--config', file, '--prometheus-port', String(cliPort)]);
    const url = await agent.prometheusUrl();
    assert.equal(url, `http://127.0.0.1:${cliPort}/metrics`);
    await agent.waitForStderr(/task tenant-a\/j1 added/);
    const page = (await httpGet(url)).body;
    assert.match(page, /^container_cpu_time_seconds_total\{[^}]*container_id="j1"[^}]*container_namespace="tenant-a"[^}]*cpu_mode="user"[^}]*\} 0\.840607$/m);
  });

  test('a bad file: exit 2 with the message, nothing started', () => {
    const file = path.join(tmp, 'bad.json');
    fs.writeFileSync(file, '{"prometheus-port": 9464, "layout_pattern": "x"}');
    const r = spawnSync(process.execPath, [bin, '--config', file], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`--config ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: unknown key "layout_pattern"`));
    const missing = spawnSync(process.execPath, [bin, '--config', path.join(tmp, 'nope.json')], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /nope\.json: cannot read it: ENOENT/);
  });
});
