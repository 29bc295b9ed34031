'use strict';
// index.d.ts is complete and precise: test/typed/example.ts (the whole
// loop, sync and Promise APIs, remote clients, an async fetch transport,
// webhooks) type-checks under `tsc --noEmit --strict`, and its
// @ts-expect-error lines (a wrong status, a missing idempotency key, a
// non-string metadata value, a Promise taken for an intent) must fail to.
// TypeScript is pinned in package.json devDependencies (npm ci installs
// it); without it this test fails rather than skips.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const fs = require('node:fs');
const { spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..');

test('index.d.ts checks a typed example with tsc --noEmit', () => {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  assert.ok(fs.existsSync(tsc), 'typescript is not installed: npm ci --prefix bindings/node');
  const r = spawnSync(process.execPath, [tsc, '--noEmit', '-p', path.join(__dirname, 'typed')],
    { encoding: 'utf8', timeout: 120000 });
  assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
});

test('the declarations name every export of the module', () => {
  const dts = fs.readFileSync(path.join(root, 'index.d.ts'), 'utf8');
  const exported = Object.keys(require('..'));
  const missing = exported.filter((k) => !new RegExp(`export (declare )?(class|function|const|interface|type) ${k}\\b`).test(dts)
    && k !== 'transport');
  assert.deepEqual(missing, []);
});
