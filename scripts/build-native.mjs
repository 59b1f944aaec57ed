#!/usr/bin/env node
// Builds native/build/cgroup-events.node (the package's `install` script; see native/cgroup-events.c):
// one C file against Node-API, compiled with the system's C compiler. Node-API is ABI-stable, so
// the one build serves every Node.js >= 20. Optional: without a compiler or Node's headers it
// says so and exits 0; the agent then learns of cgroup.events changes by inotify, on its main
// thread. Set OCM_NATIVE_REQUIRED=1 to make a failed build an error (CI does).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'native', 'cgroup-events.c');
const out = path.join(root, 'native', 'build', 'cgroup-events.node');
const required = process.env.OCM_NATIVE_REQUIRED === '1';

function fail(why) {
  const msg = `otel-cgroup-metrics: the native cgroup.events watcher was not built (${why}); final readings are taken on the main thread instead`;
  if (required) {
    console.error(`${msg}. OCM_NATIVE_REQUIRED=1: failing.`);
    process.exit(1);
  }
  console.warn(msg);
  process.exit(0);
}

if (process.platform !== 'linux') fail('not Linux');
if (!fs.existsSync(source)) fail(`${source} is missing`);

// Node's headers: beside the running binary (official tarballs, nvm, the node:* images), or the distribution's.
const includeDirs = [path.join(path.dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node'];
const include = includeDirs.find((d) => fs.existsSync(path.join(d, 'node_api.h')));
if (!include) fail(`no node_api.h in ${includeDirs.join(', ')}`);

const cc = process.env.CC || 'cc';
fs.mkdirSync(path.dirname(out), { recursive: true });
const tmp = `${out}.${process.pid}.tmp`;
try {
  execFileSync(cc, ['-O2', '-Wall', '-Wextra', '-Wno-unused-parameter', '-std=c11', '-fPIC', '-shared', '-pthread', `-I${include}`, source, '-o', tmp], { stdio: ['ignore', 'inherit', 'inherit'] });
  fs.renameSync(tmp, out);
} catch (err) {
  fs.rmSync(tmp, { force: true });
  fail(`${cc}: ${err.code === 'ENOENT' ? 'no C compiler' : err.message.split('\n')[0]}`);
}
console.log(`otel-cgroup-metrics: built ${path.relative(root, out)} (headers: ${include})`);
