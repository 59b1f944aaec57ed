/** Traffic in a process's network namespace, and the kernel's own counters of it, for the network tests. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

/** Sends `n` UDP datagrams of `bytes` bytes from inside `pid`'s network namespace to `to`:9 (nsenter and this Node.js). */
export function sendDatagrams(pid: number, n: number, bytes: number, to: string): void {
  execFileSync('nsenter', [
    `--net=/proc/${pid}/ns/net`,
    process.execPath,
    '-e',
    `const d=require('dgram').createSocket('udp4');let n=0;const f=()=>d.send(Buffer.alloc(${bytes}),9,${JSON.stringify(to)},()=>{if(++n<${n})f();else d.close()});f()`,
  ]);
}

/** One interface's transmit counters in `pid`'s /proc/<pid>/net/dev, split here (not by the parser under test): fields 9 and 10. */
export function kernelTx(pid: number, iface: string): { txBytes: number; txPackets: number } {
  const line = fs
    .readFileSync(`/proc/${pid}/net/dev`, 'latin1')
    .split('\n')
    .find((l) => l.trim().startsWith(`${iface}:`));
  assert.ok(line, `${iface} in /proc/${pid}/net/dev`);
  const f = (line.split(':')[1] as string).trim().split(/\s+/).map(Number);
  return { txBytes: f[8] as number, txPackets: f[9] as number };
}
