/**
 * One browser page's WebSocket: requests in (the IPC contract), replies and every event out. Every
 * request gets a reply, a malformed one an `invalid_input` error (with id null when it had no usable
 * id); a socket whose unsent output passes a bound is dropped, since its page stopped reading.
 * Requests run as they come, but the image requests (channels `images.*` and `docs.store`: an image's or a document's bytes)
 * run at most `imageCallsInFlight` at once per socket; the others wait in order, and past the queue's
 * bounds (count, frame bytes) one is refused `busy`. What still waits when its socket closes never runs.
 */
import { WebSocket } from 'ws';
import { WsRequest, WsResponse } from '../ipc/contract';
import type { Logger } from '../logging';
import { Services } from '../services';

export interface SocketLimits {
  /** unsent bytes a socket may hold before the next send drops it */
  maxBufferedBytes: number;
  /** image requests running at once */
  imageCallsInFlight: number;
  /** image requests waiting, and their frames' bytes: past either, the next one is refused `busy` */
  imageCallsQueued: number;
  imageQueueBytes: number;
}

/** The heavy channels: an image's bytes in (images.store) or out (images.read), a document's in (docs.store: as many bytes as an image's). */
export function isImageChannel(channel: string): boolean {
  return channel.startsWith('images.') || channel === 'docs.store';
}

/** The id of a frame that is not a valid request, when it has an integer one. */
function idOf(frame: unknown): number | null {
  const id = (frame as { id?: unknown } | null)?.id;
  return typeof id === 'number' && Number.isSafeInteger(id) ? id : null;
}

export function attachSocket(ws: WebSocket, services: Services, logger: Logger, limits: SocketLimits): void {
  ws.on('error', (e) => {
    // ws has already sent a close frame with the protocol error's code (1002, 1007, 1009, …)
    logger.debug(`browser socket: ${e.message}`);
  });

  const send = (text: string): void => {
    if (ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > limits.maxBufferedBytes) {
      logger.warn(`browser socket dropped: ${ws.bufferedAmount} bytes unsent (the page stopped reading)`);
      ws.terminate();
      return;
    }
    ws.send(text, (err) => err && logger.debug(`browser socket send: ${err.message}`));
  };
  const reply = (r: WsResponse): void => {
    let text: string;
    try {
      text = JSON.stringify(r);
    } catch (e) {
      text = JSON.stringify({ id: r.id, ok: false, error: { code: 'internal', message: `the reply could not be encoded: ${(e as Error).message}` } });
    }
    send(text);
  };

  // every event main emits reaches every open page (events are validated, so they encode)
  const unsubscribe = services.subscribe((event, payload) => send(JSON.stringify({ event, payload })));

  // the image requests: those running, and those waiting (each with its frame's size)
  const waiting: { run: () => Promise<void>; bytes: number }[] = [];
  let waitingBytes = 0;
  let running = 0;
  // `run` never rejects (it answers every outcome)
  const start = (run: () => Promise<void>): void => {
    running++;
    run()
      .then(() => {
        running--;
        // a socket closing (its close frame read) or closed has nobody left to answer
        if (ws.readyState !== WebSocket.OPEN) {
          waiting.length = 0;
          waitingBytes = 0;
        }
        while (running < limits.imageCallsInFlight && waiting.length) {
          const next = waiting.shift()!;
          waitingBytes -= next.bytes;
          start(next.run);
        }
      })
      .catch((e: unknown) => logger.error(`browser socket image queue: ${(e as Error | null)?.message ?? String(e)}`));
  };
  ws.on('close', () => {
    unsubscribe();
    // nobody is left to answer
    waiting.length = 0;
    waitingBytes = 0;
  });

  ws.on('message', (data) => {
    try {
      let frame: unknown;
      let size = 0;
      try {
        const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
        size = bytes.length;
        frame = JSON.parse(bytes.toString('utf8'));
      } catch {
        return reply({ id: null, ok: false, error: { code: 'invalid_input', message: 'a request must be JSON: {"id": integer, "channel": string, "payload": …}' } });
      }
      const req = WsRequest.safeParse(frame);
      if (!req.success) {
        const issues = req.error.issues.map((i) => `${i.path.join('.') || 'request'} ${i.message}`).join('; ');
        return reply({ id: idOf(frame), ok: false, error: { code: 'invalid_input', message: `malformed request: ${issues}` } });
      }
      const { id, channel, payload } = req.data;
      const run = () =>
        services.call(channel, payload).then((r) => reply({ id, ...r })).catch((e: unknown) => logger.error(`browser socket reply: ${(e as Error | null)?.message ?? String(e)}`)); // never an unhandled rejection
      if (!isImageChannel(channel)) return void run();
      if (running < limits.imageCallsInFlight) return start(run);
      if (waiting.length >= limits.imageCallsQueued || waitingBytes + size > limits.imageQueueBytes) {
        return reply({ id, ok: false, error: { code: 'busy', message: `this page has ${running} image requests running and ${waiting.length} waiting: ask again once one is answered` } });
      }
      waiting.push({ run, bytes: size });
      waitingBytes += size;
    } catch (e) {
      logger.error(`browser socket message: ${(e as Error).message}`);
      reply({ id: null, ok: false, error: { code: 'internal', message: 'the request could not be handled' } });
    }
  });
}
