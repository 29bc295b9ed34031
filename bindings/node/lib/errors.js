'use strict';
const { C } = require('./native');

/** A libconstra failure: code string, HTTP status, parameter at fault. */
class ConstraError extends Error {
  constructor(message, { code = 'error', httpStatus = 500, param = null, status = -1, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ConstraError';
    this.code = code;
    this.httpStatus = httpStatus;
    this.param = param || null;
    this.status = status;
  }

  /** The REST error JSON: {error: {code, message, param}}. */
  toJSON() { return { error: { code: this.code, message: this.message, param: this.param } }; }
}

const E = { INVALID_ARGUMENT: -2 };

function fromError(rc, err, cause) {
  if (!err || err.status === 0) {
    return new ConstraError(C.strerror(rc), {
      code: String(C.status_name(rc)).toLowerCase(), httpStatus: C.status_http(rc), status: rc, cause,
    });
  }
  // HTTP status 0: no answer came, the failure is on this side of the wire
  // (a transport failure, CONSTRA_E_TRANSPORT / _OUTCOME_UNKNOWN): kept as 0.
  const clientSide = err.http_status === 0 && (err.status === -14 || err.status === -15);
  return new ConstraError(err.message, {
    code: err.code || 'error', httpStatus: clientSide ? 0 : err.http_status || C.status_http(err.status),
    param: err.param || null, status: err.status, cause,
  });
}

function wrongType(param, expected, value) {
  const got = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  const e = new ConstraError(`${param} must be ${expected}, not ${got}`, {
    code: 'parameter_invalid', httpStatus: 400, param, status: E.INVALID_ARGUMENT,
  });
  e.name = 'ConstraTypeError';
  return e;
}

function invalid(param, message, code = 'parameter_invalid') {
  return new ConstraError(message, { code, httpStatus: 400, param, status: E.INVALID_ARGUMENT });
}

// JS values to C arguments, refusing what C would misread: a NUL inside a
// string would cut it short in C; a lone surrogate has no UTF-8 form.
function cstr(value, param, { required = false } = {}) {
  if (value === undefined || value === null) {
    if (required) throw invalid(param, `${param} is required`, 'parameter_missing');
    return null;
  }
  if (typeof value !== 'string') throw wrongType(param, 'a string', value);
  if (value.includes('\0')) throw invalid(param, `${param} must not contain a NUL character`);
  if (!value.isWellFormed()) throw invalid(param, `${param} is not valid Unicode text`);
  return value;
}

// An integer: a safe-integer Number or a BigInt (never a fraction: money
// is never rounded).
function cint(value, param, lo, hi) {
  let v;
  if (typeof value === 'bigint') v = value;
  else if (typeof value === 'number' && Number.isInteger(value)) {
    if (!Number.isSafeInteger(value)) throw invalid(param, `${param} is out of range`);
    v = BigInt(value);
  } else throw wrongType(param, 'an integer', value);
  if (v < lo || v > hi) throw invalid(param, `${param} must be between ${lo} and ${hi}`);
  return v;
}

function bodyBytes(value, param = 'body') {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'string') {
    if (!value.isWellFormed()) throw invalid(param, `${param} is not valid Unicode text`);
    return Buffer.from(value, 'utf8');
  }
  throw wrongType(param, 'a Buffer, Uint8Array or string', value);
}

module.exports = { ConstraError, fromError, wrongType, invalid, cstr, cint, bodyBytes };
