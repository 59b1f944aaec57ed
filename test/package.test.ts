/**
 * The package as users get it: `require('otel-cgroup-metrics')` from a CommonJS file gives the
 * same classes as `import()`, and `npm pack` ships exactly LICENSE, README.md, package.json,
 * dist/ (.js and .d.ts of every source file, no source maps that point at unshipped sources)
 * and proto/ — no tests, benchmarks or sources.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';

const ROOT = path.resolve(new URL('..', import.meta.url).pathname);
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, Record<string, string>>;
  bin: Record<string, string>;
};

function assertBuilt(): void {
  assert.ok(fs.existsSync(path.join(ROOT, 'dist/index.js')), 'dist/index.js is missing: run `npm run build` first');
}

describe('require() from CommonJS', () => {
  test('a .cjs file requires the built package and gets CgroupMetrics; import() gives the same class', () => {
    assertBuilt();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocm-require-'));
    try {
      // The package installed as a dependency: node_modules/otel-cgroup-metrics → the repository.
      fs.mkdirSync(path.join(dir, 'node_modules'));
      fs.symlinkSync(ROOT, path.join(dir, 'node_modules', pkg.name), 'dir');
      fs.writeFileSync(
        path.join(dir, 'use.cjs'),
        `'use strict';
let required;
try {
  required = require('otel-cgroup-metrics');
} catch (err) {
  console.log(JSON.stringify({ error: err.code ?? err.message }));
  process.exit(0);
}
import('otel-cgroup-metrics').then((imported) => {
  console.log(JSON.stringify({
    type: typeof required.CgroupMetrics,
    name: required.CgroupMetrics && required.CgroupMetrics.name,
    same: imported.CgroupMetrics === required.CgroupMetrics,
    sameError: imported.ConfigError === required.ConfigError,
    keys: Object.keys(required).sort().join(',') === Object.keys(imported).sort().join(','),
    resolved: require.resolve('otel-cgroup-metrics'),
  }));
});
`,
      );
      const r = spawnSync(process.execPath, ['use.cjs'], { cwd: dir, encoding: 'utf8', timeout: 20_000, env: { ...process.env, NODE_OPTIONS: '' } });
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout.trim()) as Record<string, unknown>;
      if (process.features.require_module !== true) {
        // Node before 20.19 (and 22.0–22.11 without --experimental-require-module): the README
        // says require() needs 20.19+; what users see there is Node's own error.
        assert.equal(out.error, 'ERR_REQUIRE_ESM', r.stdout);
        return;
      }
      assert.deepEqual(out, {
        type: 'function',
        name: 'CgroupMetrics',
        same: true,
        sameError: true,
        keys: true,
        resolved: fs.realpathSync(path.join(ROOT, 'dist/index.js')),
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the exports map: types first, then import and require on the same ESM build', () => {
    const dot = pkg.exports['.'] as Record<string, string>;
    assert.deepEqual(Object.keys(dot), ['types', 'import', 'require']);
    assert.equal(dot.import, './dist/index.js');
    assert.equal(dot.require, dot.import);
  });
});

describe('npm pack', () => {
  test("ships LICENSE, README.md, package.json, dist .js/.d.ts of every source file, proto/*.proto and the events addon's source and build script, nothing else", () => {
    assertBuilt();
    // --ignore-scripts: no `prepare` build here; the suite runs on what `npm run build` made.
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const [info] = JSON.parse(r.stdout) as Array<{ files: Array<{ path: string }> }>;
    assert.ok(info);
    const files = info.files.map((f) => f.path).sort();
    const shipped = new Set(files);

    // The addon is built at install (package.json `install`): its source and script ship, no binary.
    const top = ['LICENSE', 'README.md', 'package.json', 'native/cgroup-events.c', 'scripts/build-native.mjs'];
    const stray = files.filter((f) => !top.includes(f) && !/^dist\/.+\.(?:js|d\.ts)$/.test(f) && !/^proto\/.+\.proto$/.test(f));
    assert.deepEqual(stray, [], `files that should not be in the package: ${stray.join(', ')}`);
    for (const f of top) assert.ok(shipped.has(f), `${f} is not in the package`);

    // Every source file's build, and nothing built from a source that is gone (a stale dist/).
    const sources = fs
      .readdirSync(path.join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => f.replace(/\.ts$/, ''));
    const expected = sources.flatMap((s) => [`dist/${s}.js`, `dist/${s}.d.ts`]).sort();
    assert.deepEqual(
      files.filter((f) => f.startsWith('dist/')),
      expected,
      'dist/ in the package is not exactly the .js and .d.ts of src/',
    );
    const protos = fs
      .readdirSync(path.join(ROOT, 'proto'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.proto'))
      .map((f) => `proto/${f}`)
      .sort();
    assert.ok(protos.length > 0);
    assert.deepEqual(
      files.filter((f) => f.startsWith('proto/')),
      protos,
    );

    // No source map comment that points at a file the package does not carry.
    for (const f of files.filter((p) => p.endsWith('.js') || p.endsWith('.d.ts'))) {
      const text = fs.readFileSync(path.join(ROOT, f), 'utf8');
      for (const m of text.matchAll(/^\/\/# sourceMappingURL=(\S+)$/gm)) {
        const target = path.posix.join(path.posix.dirname(f), m[1] as string);
        assert.ok(shipped.has(target), `${f} points at ${m[1]}, which is not shipped`);
      }
    }

    // The entry points the manifest names are in it.
    for (const target of [...Object.values(pkg.exports['.'] as Record<string, string>), ...Object.values(pkg.bin)])
      assert.ok(shipped.has(path.posix.normalize(target)), `${target} (named in package.json) is not shipped`);
    console.log(`# npm pack: ${files.length} files (${expected.length} in dist/, ${protos.length} .proto)`);
  });
});
