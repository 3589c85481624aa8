/**
 * Child process for the crash test: streams a reply into the store at DBPATH and prints a line after every flush
 * ("FLUSHED <index> <flushedChars>") once it is committed. The parent kills it with SIGKILL mid-stream.
 *
 *   node scripts/run-ts.js test/store/stream-child.ts DBPATH
 */
import { Store } from '../../main/store';

const dbPath = process.argv[2];
if (!dbPath) {
  console.error('usage: stream-child DBPATH');
  process.exit(2);
}

const store = Store.open(dbPath, { writer: { flushIntervalMs: 60_000, flushChars: 1 << 20 } });
const thread = store.threads.create({ title: 'crash test' });
store.messages.add({ threadId: thread.id, role: 'user', content: 'Write forever.' });
const writer = store.messages.beginReply({ threadId: thread.id, model: 'crash-model' });
process.stdout.write(`READY ${thread.id} ${writer.messageId}\n`);

let i = 0;
function step(): void {
  // a few pieces per flush, like tokens arriving between two timer flushes
  for (let k = 0; k < 3; k++) writer.append(`piece${i}.${k} `);
  writer.flush();
  process.stdout.write(`FLUSHED ${i} ${writer.flushedChars}\n`); // stdout to a pipe is synchronous on Linux
  i++;
  setTimeout(step, 1);
}
step();
