/**
 * One browser page's WebSocket: requests in (the IPC contract), replies and every event out. Every
 * request gets a reply, a malformed one an `invalid_input` error (with id null when it had no usable
 * id); a socket whose unsent output passes a bound is dropped, since its page stopped reading.
 */
import { WebSocket } from 'ws';
import { WsRequest, WsResponse } from '../ipc/contract';
import type { Logger } from '../logging';
import { Services } from '../services';

export interface SocketLimits {
  /** unsent bytes a socket may hold before the next send drops it */
  maxBufferedBytes: number;
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
  ws.on('close', unsubscribe);

  ws.on('message', (data) => {
    try {
      let frame: unknown;
      try {
        const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
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
      services.call(channel, payload).then((r) => reply({ id, ...r })).catch((e: unknown) => logger.error(`browser socket reply: ${(e as Error | null)?.message ?? String(e)}`)); // never an unhandled rejection
    } catch (e) {
      logger.error(`browser socket message: ${(e as Error).message}`);
      reply({ id: null, ok: false, error: { code: 'internal', message: 'the request could not be handled' } });
    }
  });
}
