'use strict';
// bindings/node/README.md's first example (the whole loop) runs as a
// newcomer would paste it, from the repository root.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

test("the README's whole-loop example runs as written", () => {
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
  const code = /```js\n([\s\S]*?)```/.exec(readme)[1];
  assert.match(code, /require\('\.\/bindings\/node'\)/);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'constra-readme-'));
  try {
    // './bindings/node' from the repository root: make that path resolve here.
    fs.mkdirSync(path.join(dir, 'bindings'));
    fs.symlinkSync(path.join(__dirname, '..'), path.join(dir, 'bindings', 'node'));
    fs.writeFileSync(path.join(dir, 'loop.js'), code);
    const r = spawnSync(process.execPath, ['loop.js'], { cwd: dir, encoding: 'utf8', timeout: 60000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^pi_\S+ pending_user_action$/m);
    assert.match(r.stdout, /^requires_recovery - /m);
    assert.match(r.stdout, /^succeeded \S+$/m);
    assert.match(r.stdout, /^verified payment_intent\.succeeded pi_/m);
    assert.match(r.stdout, /^1 intent\(s\)$/m);
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
});
