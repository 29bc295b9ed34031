'use strict';
// A worker thread of a remote client (lib/promises.js): opens its own
// remote handle with the client's configuration and makes the blocking C
// calls here — the synchronous forms, client.sync.* — one at a time in
// arrival order, so the main thread's event loop keeps running. A JS
// transport is a proxy whose send() hands each request to the main thread
// and blocks until the answer is there.

const { parentPort, workerData, receiveMessageOnPort } = require('node:worker_threads');
const { Client, TransportFailure } = require('../index.js');

// The id of the call running now: sent with each transport request so
// that the main thread files what the JS transport threw under the call.
let currentCall = 0;

function proxyTransport({ port, flag, name }) {
  return {
    name,
    send(request) {
      Atomics.store(flag, 0, 0);
      port.postMessage({ call: currentCall, request });
      let msg;
      for (;;) {
        Atomics.wait(flag, 0, 0);
        msg = receiveMessageOnPort(port);
        if (msg !== undefined) break;
        Atomics.store(flag, 0, 0); // woken without an answer: wait again
      }
      const reply = msg.message;
      if (reply.error) throw new TransportFailure(reply.error.kind, reply.error.message);
      return reply.answer;
    },
    close() {},
  };
}

let client = null;
let openError = null;
try {
  const spec = { ...workerData.spec };
  if (workerData.transport) spec.transport = proxyTransport(workerData.transport);
  client = Client.remote(spec);
} catch (e) {
  openError = e;
}

function errorOf(e) {
  return {
    message: String(e && e.message), code: e && e.code || 'error', httpStatus: e && e.httpStatus !== undefined ? e.httpStatus : 500,
    param: e && e.param || null, status: e && e.status !== undefined ? e.status : -1, name: e && e.name,
  };
}

parentPort.on('message', (msg) => {
  if (msg.close) {
    if (client) client.close();
    client = null;
    parentPort.close();
    return;
  }
  const { id, method, args } = msg;
  try {
    if (openError) throw openError;
    if (client === null) throw Object.assign(new Error('the client is closed'), { code: 'client_closed', status: -2 });
    currentCall = id;
    let value = client.sync[method](...args);
    let replayed;
    if (value && typeof value === 'object' && Object.prototype.hasOwnProperty.call(value, 'replayed')) replayed = value.replayed;
    if (method === 'request') value = { status: value.status, headers: value.headers, body: value.body };
    parentPort.postMessage({ id, value, replayed });
  } catch (e) {
    parentPort.postMessage({ id, error: errorOf(e) });
  }
});
