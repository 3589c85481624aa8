/**
 * R1: the engine host killed mid-reply, again and again, alternating SIGKILL from outside and abort()
 * inside the host (as a failed llama.cpp assert does), through the chat service with the real store
 * and a generated model: the app answers, every partial reply is kept and marked (status
 * `interrupted`, finishReason `engineRestarted`, the error `engine_crashed`), and the message after
 * each kill streams again. Bounded: KILLS kills, in at most
 * 2 × KILLS turns.
 */
import { EventOf, MessageDTO } from '../../main/ipc/contract';
import { alive, makeEngine } from '../helpers/engine';
import { ChatApp, chatApp, nextDone } from '../helpers/chat';

const KILLS = 50;
const TURNS_PER_THREAD = 10;

let chat: ChatApp;
const call: ChatApp['call'] = (channel, payload) => chat.call(channel, payload);

beforeAll(async () => {
  // this loop restarts the host on purpose, far more often than the production throttle allows
  chat = chatApp({ engine: makeEngine({}, undefined, { maxRestarts: 10 * KILLS }) });
  chat.app.store.modelSettings.set(chat.modelPath, { contextSize: 1024, threads: 1 });
  await call('models.load', { path: chat.modelPath });
});

afterAll(() => chat.close());

test(`R1: ${KILLS} kills mid-reply (SIGKILL and abort()): partial replies kept and marked, the next message works`, async () => {
  const t0 = Date.now();
  const newThread = async (): Promise<{ id: string }> => {
    const t = await call('threads.create', {});
    await call('threads.rename', { id: t.id, title: 'R1' }); // no title generation between turns
    return t;
  };
  let thread = await newThread();
  chat.setChatDefaults({ maxTokens: 100000 }); // every reply runs until its host is killed
  const figures = { kills: 0, sigkill: 0, abort: 0, partialKept: 0, nextRequestOk: 0, eosBeforeKill: 0 };
  const pids = new Set<number>();
  let afterKill = false;
  // the model's random weights may end a reply (EOS) before the kill lands: such a turn is not counted
  for (let turn = 0; figures.kills < KILLS; turn++) {
    if (turn >= 2 * KILLS) throw new Error(`only ${figures.kills} kills landed mid-reply in ${turn} turns`);
    // a few turns per thread, so the conversation stays within the small context
    if (turn > 0 && turn % TURNS_PER_THREAD === 0) thread = await newThread();
    const how = figures.kills % 2 === 0 ? 'SIGKILL' : 'abort';
    const done = nextDone(chat.app, thread.id);
    let streamed = '';
    let pid: number | undefined;
    const off = chat.app.services.subscribe((event, payload) => {
      if (event !== 'chat.piece') return;
      streamed += (payload as EventOf<'chat.piece'>).content;
      if (pid !== undefined) return;
      pid = chat.engine.pid!;
      pids.add(pid);
      if (afterKill) figures.nextRequestOk++; // the message after a kill streams
      afterKill = false;
      if (how === 'SIGKILL') process.kill(pid, 'SIGKILL');
      else void chat.engine.request('crash', { how: 'abort' }).catch(() => undefined);
    });
    const sent = await call('chat.send', { threadId: thread.id, content: `Story ${turn}` });
    const reply = await done;
    off();
    await chat.app.chat.idle();
    if (pid === undefined) throw new Error(`turn ${turn}: the reply did not stream: ${JSON.stringify(reply)}`);
    afterKill = true;
    expect(reply.id).toBe(sent.reply.id);
    if (reply.status === 'done') {
      // EOS came first; the kill still lands: wait for the client to notice before the next turn
      figures.eosBeforeKill++;
      while (alive(pid) || chat.engine.pid === pid) await new Promise((r) => setTimeout(r, 20));
      continue;
    }
    figures.kills++;
    figures[how === 'SIGKILL' ? 'sigkill' : 'abort']++;
    expect(reply).toMatchObject({ status: 'interrupted', finishReason: 'engineRestarted' });
    expect(reply.error).toMatch(new RegExp(`^engine_crashed: .*${how === 'SIGKILL' ? 'SIGKILL' : 'SIGABRT'}`));
    // what streamed before the kill is in the store
    const stored = (await call('threads.get', { id: thread.id })).messages.find((m: MessageDTO) => m.id === reply.id) as MessageDTO;
    expect(stored.content).toBe(streamed);
    expect(stored.content.length).toBeGreaterThan(0);
    if (stored.status === 'interrupted' && stored.finishReason === 'engineRestarted' && stored.content.length > 0) figures.partialKept++;
  }
  // and after the last kill a reply runs to its end
  chat.setChatDefaults({ maxTokens: 8 });
  const done = nextDone(chat.app, thread.id);
  let streamedAgain = false;
  const off = chat.app.services.subscribe((event) => {
    if (event === 'chat.piece') streamedAgain = true;
  });
  await call('chat.send', { threadId: thread.id, content: 'Are you back?' });
  const last = await done;
  off();
  await chat.app.chat.idle();
  expect(last.status).toBe('done');
  expect(last.metrics!.generatedTokens).toBeGreaterThan(0);
  expect(streamedAgain).toBe(true);
  figures.nextRequestOk++;
  expect(pids.size).toBe(figures.kills + figures.eosBeforeKill); // a fresh host for every turn
  const seconds = (Date.now() - t0) / 1000;
  console.log(
    `R1: ${figures.kills} kills (${figures.sigkill} SIGKILL, ${figures.abort} abort() in the host), ${figures.partialKept} partial replies kept and marked, ` +
      `${figures.nextRequestOk} next-request successes, ${figures.eosBeforeKill} replies ended by EOS before their kill landed, ${seconds.toFixed(1)} s`,
  );
  expect(figures.partialKept).toBe(KILLS);
  expect(figures.nextRequestOk).toBe(KILLS + figures.eosBeforeKill);
}, 240_000);
