'use strict';
// The koffi struct declarations in lib/native.js against the compiler's
// layouts: tests/abi's struct_layouts program (path in CONSTRA_LAYOUTS, set
// by meson) prints sizeof, alignment and each member's offset and size of
// every public struct as JSON.
//
// Any difference fails: a field at another offset or of another size, a
// field the C struct does not have, a C member the binding skipped inside
// what it declares, a whole struct the C side does not have. A versioned
// struct (struct_size first) may be declared as a prefix: the library reads
// struct_size, so an older binding stays correct. The C members beyond the
// binding's declaration are then reported as `# ...` warning lines, not
// failures.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');
const { koffi, types } = require('../lib/native');

function cLayouts() {
  const prog = process.env.CONSTRA_LAYOUTS || '';
  assert.ok(prog && fs.existsSync(prog),
    `CONSTRA_LAYOUTS=${prog} is not tests/abi's struct_layouts program (meson sets it)`);
  return JSON.parse(execFileSync(prog, { encoding: 'utf8', timeout: 60000 })).structs;
}

// A koffi struct type as the comparison sees it, keyed by its C name.
function declared(T) {
  const info = koffi.type(T);
  return {
    name: info.name,
    size: koffi.sizeof(T),
    fields: Object.keys(info.members).map((name) => ({
      name, offset: koffi.offsetof(T, name), size: info.members[name].type.size,
    })),
  };
}

function bindingLayouts() {
  const out = {};
  for (const T of Object.values(types)) {
    const d = declared(T);
    out[d.name] = { size: d.size, fields: d.fields };
  }
  return out;
}

// { errors, warnings } comparing one binding declaration with the C layout.
function compare(cName, binding, cStructs) {
  const errors = [], warnings = [];
  const c = cStructs[cName];
  if (!c) return { errors: [`${cName}: the binding declares it, the C headers have no such struct`], warnings };
  const cByName = new Map(c.fields.map((f) => [f.name, f]));
  const cByOffset = new Map(c.fields.map((f) => [f.offset, f]));
  const bNames = new Set(binding.fields.map((f) => f.name));
  for (const f of binding.fields) {
    const cf = cByName.get(f.name);
    if (!cf) {
      const other = cByOffset.get(f.offset);
      errors.push(`${cName}.${f.name}: not a member of the C struct (binding offset ${f.offset}` +
        `${other ? `, where C has ${other.name}` : ''})`);
      continue;
    }
    if (cf.offset !== f.offset) {
      const other = cByOffset.get(f.offset);
      errors.push(`${cName}.${f.name}: binding offset ${f.offset}${other ? ` (C has ${other.name} there)` : ''}, ` +
        `C offset ${cf.offset}`);
    }
    if (cf.size !== f.size) errors.push(`${cName}.${f.name}: binding size ${f.size}, C size ${cf.size}`);
  }
  const end = Math.max(0, ...binding.fields.map((f) => f.offset + f.size));
  const versioned = c.fields.length > 0 && c.fields[0].name === 'struct_size' &&
    binding.fields.length > 0 && binding.fields[0].name === 'struct_size';
  const beyond = [];
  for (const cf of c.fields) {
    if (bNames.has(cf.name)) continue;
    if (cf.offset < end) {
      errors.push(`${cName}.${cf.name}: C member at offset ${cf.offset} missing from the binding's declaration`);
    } else if (versioned) {
      beyond.push(cf.name);
    } else {
      errors.push(`${cName}.${cf.name}: C member missing from the binding (not a versioned struct: it must be declared whole)`);
    }
  }
  if (beyond.length) {
    warnings.push(`${cName}: the binding declares a prefix; C members beyond it: ${beyond.join(', ')}`);
    if (binding.size > c.size) errors.push(`${cName}: binding sizeof ${binding.size} > C sizeof ${c.size}`);
  } else if (binding.size !== c.size) {
    errors.push(`${cName}: binding sizeof ${binding.size}, C sizeof ${c.size}`);
  }
  return { errors, warnings };
}

function compareAll(bindings, cStructs) {
  const errors = [], warnings = [];
  for (const [name, b] of Object.entries(bindings)) {
    const r = compare(name, b, cStructs);
    errors.push(...r.errors);
    warnings.push(...r.warnings);
  }
  return { errors, warnings };
}

const C = cLayouts();
const B = bindingLayouts();
const doctored = () => structuredClone(C);
const field = (c, s, name) => c[s].fields.find((f) => f.name === name);
const has = (list, ...parts) => list.some((e) => parts.every((p) => e.includes(p)));
// A doctored copy where the C struct has one more 8-byte member.
function appended(struct, name) {
  const c = doctored();
  c[struct].fields.push({ name, offset: c[struct].size, size: 8 });
  c[struct].size += 8;
  return c;
}

test('layout: the koffi declarations match the compiler', () => {
  const { errors, warnings } = compareAll(B, C);
  for (const w of warnings) console.log(`layout warning: ${w}`);
  assert.deepEqual(errors, []);
});

test('layout: every struct of lib/native.js is checked, under its C name', () => {
  assert.equal(Object.keys(B).length, Object.keys(types).length, 'two declarations share a C name');
  for (const name of Object.keys(B)) assert.match(name, /^constra_/);
  assert.ok(B.constra_config && B.constra_storage && B.constra_remote_config);
  for (const s of ['constra_record', 'constra_record_key', 'constra_record_op', 'constra_record_event',
    'constra_record_commit', 'constra_record_scan']) assert.ok(B[s], s);
  assert.equal(B.constra_storage_intent, undefined, 'the 0.2 storage rows are gone');
});

test('layout (doctored): a clean copy gives no error', () => {
  assert.deepEqual(compareAll(B, doctored()).errors, []);
});

test('layout (doctored): a moved field is reported', () => {
  const c = doctored();
  field(c, 'constra_config', 'mode').offset += 8;
  const { errors } = compareAll(B, c);
  assert.ok(has(errors, 'constra_config.mode', 'C offset 40'), errors.join('\n'));
});

test('layout (doctored): swapped fields are reported', () => {
  const c = doctored();
  const a = field(c, 'constra_storage', 'commit');
  const b = field(c, 'constra_storage', 'get');
  [a.offset, b.offset] = [b.offset, a.offset];
  const { errors } = compareAll(B, c);
  assert.ok(has(errors, 'constra_storage.commit'), errors.join('\n'));
  assert.ok(has(errors, 'constra_storage.get:'), errors.join('\n'));
});

test('layout (doctored): a resized field is reported', () => {
  const c = doctored();
  field(c, 'constra_error', 'code').size = 65;
  assert.ok(has(compareAll(B, c).errors, 'constra_error.code: binding size 64, C size 65'));
});

test('layout (doctored): a renamed field is reported on both sides', () => {
  const c = doctored();
  field(c, 'constra_sqlite_options', 'synchronous').name = 'sync_mode';
  const { errors } = compareAll(B, c);
  assert.ok(has(errors, 'constra_sqlite_options.synchronous: not a member', 'where C has sync_mode'), errors.join('\n'));
  assert.ok(has(errors, 'constra_sqlite_options.sync_mode: C member at offset'), errors.join('\n'));
});

test('layout (doctored): a member skipped inside the declaration is reported', () => {
  const b = structuredClone(B);
  b.constra_intent_params.fields = b.constra_intent_params.fields.filter((f) => f.name !== 'provider');
  assert.ok(has(compareAll(b, C).errors, 'constra_intent_params.provider: C member at offset'));
});

test('layout (doctored): a prefix of a versioned struct is a warning, not an error', () => {
  const { errors, warnings } = compareAll(B, appended('constra_sqlite_options', 'journal_mode'));
  assert.deepEqual(errors, []);
  assert.ok(has(warnings, 'constra_sqlite_options', 'journal_mode'), warnings.join('\n'));
});

test('layout (doctored): an unversioned struct must be declared whole', () => {
  assert.ok(has(compareAll(B, appended('constra_http_header', 'flags')).errors, 'constra_http_header.flags'));
});

test('layout (doctored): a struct the C side lacks is reported', () => {
  const c = doctored();
  delete c.constra_transport;
  assert.ok(compareAll(B, c).errors.some((e) => e.startsWith('constra_transport: ')));
});

test('layout (doctored): a size mismatch is reported', () => {
  const c = doctored();
  c.constra_api_request.size += 8;
  assert.ok(has(compareAll(B, c).errors, 'constra_api_request: binding sizeof'));
});
