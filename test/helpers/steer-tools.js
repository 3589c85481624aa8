/**
 * Steering a random-weight model into tool calls from outside the app, for the tools end-to-end test
 * (test/e2e/tools.test.ts). Loaded into every Node process of `npm start` through
 * NODE_OPTIONS=--require; it acts only in the engine host (dist/engine-host.js, not its --probe mode),
 * and there only on the messages main sends it: a `chat` request that offers tools and lets the model
 * call them (toolChoice 'auto') gets the steering the file named by HEARTH_TEST_STEER_FILE holds
 * (JSON: { logitBias: [{ token, bias }], stop: [string], times?: number }) merged in: the bias into
 * its sampling, the stop strings into its stop. Only while that file exists: the test turns steering
 * on and off by writing and deleting it; with `times`, the file is deleted here once that many
 * requests were steered (steering exactly the next step, whatever the call loop does next). No code of the app knows of this; the message is changed before the host's
 * own listener (and its zod check) sees it, as if main had sent it so.
 */
'use strict';
const fs = require('fs');
const path = require('path');

const file = process.env.HEARTH_TEST_STEER_FILE;
const script = process.argv[1] ? path.basename(process.argv[1]) : '';

/** The steering while the file exists, else null (read at each request: the test toggles it at any time). */
function steering() {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    if (e.code === 'ENOENT') return null;
    throw e;
  }
}

/** A chat request that offers tools with toolChoice auto, steered in place; anything else untouched. */
function steer(msg) {
  const request = msg && msg.type === 'request' && msg.method === 'chat' && msg.params ? msg.params.request : undefined;
  if (!request || !Array.isArray(request.tools) || request.tools.length === 0 || request.toolChoice !== 'auto') return;
  const s = steering();
  if (!s) return;
  request.sampling = { ...(request.sampling || {}), logitBias: [...((request.sampling && request.sampling.logitBias) || []), ...s.logitBias] };
  request.stop = [...(request.stop || []), ...s.stop];
  // one call per steered reply (the app lets the model make several; the grammar would let the biased model go on)
  request.parallelToolCalls = false;
  // what was steered, for the server's output (the test's failure message shows its tail)
  process.stderr.write(`steer-tools: steered chat request ${msg.id}\n`);
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
