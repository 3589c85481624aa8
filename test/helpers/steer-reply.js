/**
 * Steering a random-weight model's reply into fixed text from outside the app, for the documents
 * end-to-end test (test/e2e/documents.test.ts): a reply citing its source ("[1]") is what a real model
 * writes, never what a random one does. Loaded into every Node process of `npm start` through
 * NODE_OPTIONS=--require; it acts only in the engine host (dist/engine-host.js, not its --probe mode),
 * and there only on the `chat` requests main sends it: while the file HEARTH_TEST_STEER_REPLY_FILE
 * names exists (JSON: { request: object, times?: number }), the next chat request gets the fields of
 * `request` merged in (engine request parameters no user setting reaches, such as jsonSchema), as if
 * main had sent them; with `times`, the file is deleted here once that many requests were steered (so a
 * chat's title request is not). No code of the app knows of this; the message is changed before the
 * host's own listener (and its zod check) sees it. test/helpers/steer-tools.js does the same for tool calls.
 */
'use strict';
const fs = require('fs');
const path = require('path');

const file = process.env.HEARTH_TEST_STEER_REPLY_FILE;
const script = process.argv[1] ? path.basename(process.argv[1]) : '';

/** The steering while the file exists, else null (read at each request: the test writes it at any time). */
function steering() {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    if (e.code === 'ENOENT') return null;
    throw e;
  }
}

function steer(msg) {
  const request = msg && msg.type === 'request' && msg.method === 'chat' && msg.params ? msg.params.request : undefined;
  if (!request) return;
  const s = steering();
  if (!s) return;
  Object.assign(request, s.request);
  process.stderr.write(`steer-reply: steered chat request ${msg.id}\n`);
  if (typeof s.times === 'number') {
    if (s.times <= 1) fs.rmSync(file, { force: true });
    else fs.writeFileSync(file, JSON.stringify({ ...s, times: s.times - 1 }));
  }
}

if (file && script === 'engine-host.js' && !process.argv.includes('--probe')) {
  const on = process.on;
  const wrap = (fn) =>
    function (msg, ...rest) {
      steer(msg);
      return fn.call(this, msg, ...rest);
    };
  process.on = process.addListener = function (event, fn) {
    return on.call(this, event, event === 'message' && typeof fn === 'function' ? wrap(fn) : fn);
  };
}
