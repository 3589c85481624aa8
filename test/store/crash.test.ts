import { spawn } from 'child_process';
import path from 'path';
import Database from 'better-sqlite3';
import { Store } from '../../main/store';
import { cleanupDirs, tmpDir } from './helpers';

afterEach(() => cleanupDirs());

const ROOT = path.resolve(__dirname, '../..');

/** Runs the child until it has reported `flushes` committed flushes, then SIGKILLs it. */
function streamAndKill(dbPath: string, flushes: number): Promise<{ messageId: string; lastIndex: number; lastChars: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts/run-ts.js'), path.join(ROOT, 'test/store/stream-child.ts'), dbPath],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    let stderr = '';
    let messageId = '';
    let lastIndex = -1;
    let lastChars = 0;
    let killed = false;
    child.stderr.on('data', (d) => { stderr += d; });
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const parts = line.split(' ');
        if (parts[0] === 'READY') messageId = parts[2];
        if (parts[0] === 'FLUSHED' && !killed) {
          lastIndex = Number(parts[1]);
          lastChars = Number(parts[2]);
          if (lastIndex + 1 >= flushes) {
            killed = true;
            child.kill('SIGKILL');
          }
        }
      }
    });
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child exited (${code}, ${signal}) before the kill: ${stderr}`));
      else resolve({ messageId, lastIndex, lastChars });
    });
  });
}

describe('crash safety', () => {
  test.each([5, 40, 120])('SIGKILL after %i flushes: integrity ok, every flushed piece kept, reply interrupted', async (n) => {
    const dbPath = path.join(tmpDir(), 'hearth.db');
    const { messageId, lastIndex, lastChars } = await streamAndKill(dbPath, n);
    expect(messageId).not.toBe('');
    expect(lastIndex).toBeGreaterThanOrEqual(n - 1);

    // the file as the crash left it: consistent, reply still marked streaming
    const raw = new Database(dbPath);
    expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
    const before = raw.prepare('SELECT status, length(content) AS len FROM messages WHERE id = ?').get(messageId) as { status: string; len: number };
    expect(before.status).toBe('streaming');
    expect(before.len).toBeGreaterThanOrEqual(lastChars);
    raw.close();

    const store = Store.open(dbPath);
    try {
      expect(store.recoveredReplies).toBe(1);
      expect(store.integrityCheck()).toEqual(['ok']);
      const m = store.messages.get(messageId);
      expect(m.status).toBe('interrupted');
      // every flushed piece is there, in order
      let expected = '';
      for (let i = 0; i <= lastIndex; i++) for (let k = 0; k < 3; k++) expected += `piece${i}.${k} `;
      expect(m.content.startsWith(expected)).toBe(true);
      // the interrupted reply is now indexed like any other
      expect(store.search({ query: `piece${lastIndex}` }).hits.map((h) => h.messageId)).toEqual([messageId]);
      // and the thread is usable: a new reply continues after the interrupted one
      const w = store.messages.regenerate(messageId);
      w.append('recovered');
      expect(w.finish({ status: 'done' }).parentId).toBe(m.parentId);
    } finally {
      store.close();
    }
  });
});
