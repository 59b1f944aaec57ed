// /proc/<pid>/stat start times and /proc/stat's btime: real files and properties.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseBootTimeS, parseProcStatStartTicks } from '../../src/cgroup/parse/proc.ts';

test("parseProcStatStartTicks: this process's real stat line; a name with spaces and parentheses", () => {
  const ticks = parseProcStatStartTicks(fs.readFileSync('/proc/self/stat', 'latin1'));
  assert.ok(ticks !== undefined && ticks > 0);
  const fields = (name: string, start: number) =>
    `4242 (${name}) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 ${start} 4096 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0`;
  assert.equal(parseProcStatStartTicks(fields('sleep', 213619)), 213619);
  assert.equal(parseProcStatStartTicks(fields('a b) S 7 (c', 99)), 99, 'fields are counted after the last )');
  assert.equal(parseProcStatStartTicks('4242 (sleep'), undefined);
  assert.equal(parseProcStatStartTicks('4242 (sleep) S 1'), undefined);
  assert.equal(parseProcStatStartTicks(fields('x', 1).replace(' 1 4096', ' -1 4096')), undefined, 'a negative start is malformed');
});

test('parseProcStatStartTicks: any command name and start time round-trip; any text is no throw', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 20 }), fc.nat(), (name, start) => {
      const line = `1 (${name}) R 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 ${start} 0 0 0`;
      assert.equal(parseProcStatStartTicks(line), start);
    }),
  );
  fc.assert(
    fc.property(fc.string(), (text) => {
      const r = parseProcStatStartTicks(text);
      assert.ok(r === undefined || (Number.isSafeInteger(r) && r >= 0));
    }),
  );
});

test('parseBootTimeS: the real /proc/stat, and its absence', () => {
  const btime = parseBootTimeS(fs.readFileSync('/proc/stat', 'latin1'));
  assert.ok(btime !== undefined && btime * 1000 < Date.now() && btime > 1e9);
  assert.equal(parseBootTimeS('cpu 1 2 3\nintr 0\n'), undefined);
  fc.assert(
    fc.property(fc.string(), (text) => {
      const r = parseBootTimeS(text);
      assert.ok(r === undefined || Number.isSafeInteger(r));
    }),
  );
});
