/**
 * A hostile or broken hub (HF_ENDPOINT can point anywhere; a MITM or a broken mirror is a real case)
 * against main/models/hub-http.ts, hub.ts and remote-fit.ts, through the local hub's faults
 * (test/helpers/hf-server.ts): an endless range body, 1-byte 206 answers, a verdict that stalls,
 * listings whose pages link to themselves, to empty pages without end or to another origin, tree
 * entries with paths outside the repository.
 * The engine is never reached in these tests (every verdict fails at its header read): `{} as never`.
 */
import { GGUF_LIMITS } from '../../main/gguf/types';
import { HubFits } from '../../main/models/hub-fit';
import { HubClient, resolveUrl, type HubQuantFile } from '../../main/models/hub';
import { HUB_LISTING_LIMITS } from '../../main/models/hub-http';
import {
  HttpRangeSource, readRemoteHeader, remoteFit, REMOTE_CHUNK, REMOTE_CHUNK_MAX, REMOTE_HEADER_MAX_BYTES, REMOTE_HEADER_MAX_REQUESTS,
} from '../../main/models/remote-fit';
import { errorOf } from '../helpers/engine';
import { startHfServer } from '../helpers/hf-server';
import { useLocalHub } from '../helpers/local-hub';

const REPO = 'hearth/hostile-GGUF';
const PATHS_REPO = 'hearth/paths-GGUF';
const hf = useLocalHub('hearth-hostile-', ({ spm, embed }) => ({
  repos: [
    {
      id: REPO,
      files: [
        { path: 'a-Q8_0.gguf', data: spm },
        { path: 'b-Q4_K_M.gguf', data: embed },
        { path: 'c-Q2_K.gguf', data: spm },
        { path: 'd-Q6_K.gguf', data: spm },
      ],
    },
    {
      // a tree listing paths outside the repository, beside good ones
      id: PATHS_REPO,
      files: [
        { path: 'ok-Q4_0.gguf', data: spm },
        { path: 'sub/ok-Q8_0.gguf', data: spm },
        ...['../up-Q4_0.gguf', '/abs-Q4_0.gguf', 'a\\b-Q4_0.gguf', 'sub//double-Q4_0.gguf', './dot-Q4_0.gguf', 'sub/../x-Q4_0.gguf'].map((p) => ({ path: p, data: embed })),
      ],
    },
  ],
}));
const hubOf = () => ({ hubUrl: hf.server.url });

/** Resolves once the local hub has no response still sending (so a request's bytesSent is final). */
async function settled(): Promise<void> {
  for (let i = 0; i < 200 && hf.server.inFlight().now > 0; i++) await new Promise((r) => setTimeout(r, 10));
  expect(hf.server.inFlight().now).toBe(0);
}

async function modelOf(file: string): Promise<HubQuantFile> {
  return (await new HubClient(hubOf()).ggufFiles(REPO)).flatMap((g) => g.files).find((f) => f.parts[0].path === file)!;
}

describe('remote fit: range reads', () => {
  test('a 206 with the right Content-Range and an endless body is stopped at the first byte past the range, not buffered', async () => {
    const file = 'a-Q8_0.gguf';
    hf.server.fault(REPO, file, { endless: true });
    try {
      const e = await errorOf(readRemoteHeader(hubOf(), REPO, file, hf.spm.length));
      expect(e.code).toBe('hub_bad_response');
      expect(e.message).toMatch(/came with more than its \d+ bytes/);
      await settled();
      const cdn = hf.server.cdnLog(REPO, file);
      expect(cdn).toHaveLength(1);
      // what the hub got to send before the client went: the range, what the sockets hold, not the endless body
      expect(cdn[0].bytesSent).toBeLessThan(REMOTE_CHUNK + 32 * 1024 * 1024);
    } finally {
      hf.server.fault(REPO, file, null);
    }
  });

  test('a hub answering each range with a valid 1-byte 206 is refused at the first answer (no asking again and again)', async () => {
    const file = 'b-Q4_K_M.gguf';
    hf.server.fault(REPO, file, { rangeBytes: 1 });
    try {
      const e = await errorOf(readRemoteHeader(hubOf(), REPO, file, hf.embed.length));
      expect(e.code).toBe('hub_bad_response');
      expect(e.message).toMatch(/asked for bytes 0-\d+ of \d+, got Content-Range bytes 0-0\//);
      expect(hf.server.cdnLog(REPO, file)).toHaveLength(1);
    } finally {
      hf.server.fault(REPO, file, null);
    }
  });

  test('the bytes and requests of a header read are bounded by the GGUF reader’s own metadata bound', async () => {
    expect(REMOTE_HEADER_MAX_BYTES).toBe(GGUF_LIMITS.maxMetadataBytes + REMOTE_CHUNK_MAX);
    // the doubling ranges: REMOTE_HEADER_MAX_REQUESTS requests reach the bound, one fewer does not
    const reach = (n: number) => { let got = 0; for (let i = 0, ask = REMOTE_CHUNK; i < n; i++, ask = Math.min(REMOTE_CHUNK_MAX, ask * 2)) got += ask; return got; };
    expect(reach(REMOTE_HEADER_MAX_REQUESTS)).toBeGreaterThanOrEqual(REMOTE_HEADER_MAX_BYTES);
    expect(reach(REMOTE_HEADER_MAX_REQUESTS - 1)).toBeLessThan(REMOTE_HEADER_MAX_BYTES);
    // a read past the bound (a file the hub lists as huge) is refused before any request
    const src = new HttpRangeSource(resolveUrl(hf.server.url, REPO, 'a-Q8_0.gguf'), 10 * REMOTE_HEADER_MAX_BYTES, hubOf());
    const before = hf.server.log.length;
    const e = await errorOf(src.read(Buffer.alloc(16), 0, 16, REMOTE_HEADER_MAX_BYTES));
    expect(e.code).toBe('hub_bad_response');
    expect(e.message).toMatch(/longer than Hearth reads/);
    expect(src.count.requests).toBe(0);
    expect(hf.server.log.length).toBe(before);
  });

  test('a verdict whose hub stalls fails at its deadline (hub_unreachable), and hub.fit’s queue moves on to the next one', async () => {
    const slow = 'c-Q2_K.gguf';
    hf.server.fault(REPO, slow, { bytesPerSecond: 2000 });
    hf.server.fault(REPO, 'd-Q6_K.gguf', { status: 429, times: 1 });
    try {
      const e = await errorOf(remoteFit({} as never, REPO, await modelOf(slow), { hub: hubOf(), deadlineMs: 300 }));
      expect(e.code).toBe('hub_unreachable');
      expect(e.message).toMatch(/did not send the header within 0\.3 s/);

      const hub = new HubClient(hubOf());
      const fits = new HubFits({ engine: {} as never, hub: () => hub, marginMiB: () => 512, deadlineMs: 300 });
      const first = fits.fit({ repo: REPO, revision: 'main', file: slow });
      const second = fits.fit({ repo: REPO, revision: 'main', file: 'd-Q6_K.gguf' });
      await expect(first).rejects.toMatchObject({ code: 'hub_unreachable' });
      await expect(second).rejects.toMatchObject({ code: 'hub_busy' });
    } finally {
      hf.server.fault(REPO, slow, null);
      hf.server.fault(REPO, 'd-Q6_K.gguf', null);
    }
  });
});

describe('listings: pages', () => {
  const trees = (from: number) => hf.server.log.slice(from).filter((e) => e.path.includes('/tree/'));
  const limited = (l: Partial<typeof HUB_LISTING_LIMITS>) => new HubClient(hubOf(), { ...HUB_LISTING_LIMITS, ...l });

  test('a file listing whose page links to itself stops at the second ask (not a page read again and again)', async () => {
    hf.server.fault(REPO, '', { next: 'self' });
    const before = hf.server.log.length;
    try {
      const e = await errorOf(new HubClient(hubOf()).files(REPO));
      expect(e.code).toBe('hub_bad_response');
      expect(e.message).toMatch(/next page is one already read/);
      expect(trees(before)).toHaveLength(1);
    } finally {
      hf.server.fault(REPO, '', null);
    }
  });

  test('empty pages without end stop at the page bound (listing and search), and at the call’s deadline', async () => {
    hf.server.fault(REPO, '', { next: 'empty' });
    hf.server.fault('', '', { next: 'empty' });
    let before = hf.server.log.length;
    try {
      const e = await errorOf(limited({ maxPages: 20 }).files(REPO));
      expect(e).toMatchObject({ code: 'hub_bad_response', message: expect.stringMatching(/more than 20 pages/) });
      expect(trees(before)).toHaveLength(20);
      before = hf.server.log.length;
      const s = await errorOf(limited({ maxPages: 20 }).search({ limit: 5 }));
      expect(s).toMatchObject({ code: 'hub_bad_response', message: expect.stringMatching(/more than 20 pages/) });
      expect(hf.server.log.slice(before).filter((x) => x.path.startsWith('/api/models?'))).toHaveLength(20);
      // the default bound holds too
      const d = await errorOf(new HubClient(hubOf()).search({ limit: 5 }));
      expect(d.message).toMatch(new RegExp(`more than ${HUB_LISTING_LIMITS.maxPages} pages`));
      const t = await errorOf(limited({ maxPages: 1e9, deadlineMs: 300 }).files(REPO));
      expect(t).toMatchObject({ code: 'hub_unreachable', message: expect.stringMatching(/did not answer within 0\.3 s/) });
    } finally {
      hf.server.fault(REPO, '', null);
      hf.server.fault('', '', null);
    }
  });

  test('too many entries or a page too large is refused', async () => {
    expect(await errorOf(limited({ maxEntries: 2 }).files(REPO))).toMatchObject({ code: 'hub_bad_response', message: expect.stringMatching(/more than 2 entries/) });
    expect(await errorOf(limited({ maxPageBytes: 100 }).files(REPO))).toMatchObject({ code: 'hub_bad_response', message: expect.stringMatching(/larger than/) });
    expect(await new HubClient(hubOf()).files(REPO)).toHaveLength(4);
  });

  test('a next page on another origin is asked without the token', async () => {
    const other = await startHfServer({ repos: [{ id: REPO, files: [{ path: 'e-Q4_0.gguf', data: hf.spm }] }] });
    const token = 'hf_hostile_secret';
    hf.server.fault(REPO, '', { next: `${other.url}/api/models/${REPO}/tree/main?recursive=true` });
    const before = hf.server.log.length;
    try {
      const files = await new HubClient({ ...hubOf(), token }).files(REPO);
      expect(files.map((f) => f.path)).toContain('e-Q4_0.gguf');
      expect(trees(before).map((x) => x.authorization)).toEqual([`Bearer ${token}`]);
      const foreign = other.log.filter((x) => x.path.includes('/tree/'));
      expect(foreign).toHaveLength(1);
      expect(foreign[0].authorization).toBeNull();
    } finally {
      hf.server.fault(REPO, '', null);
      await other.close();
    }
  });
});

describe('listings: entries', () => {
  test('an entry whose path is not inside the repository is left out; the listing does not fail', async () => {
    const files = await new HubClient(hubOf()).files(PATHS_REPO);
    expect(files.map((f) => f.path).sort()).toEqual(['ok-Q4_0.gguf', 'sub/ok-Q8_0.gguf']);
    const models = (await new HubClient(hubOf()).ggufFiles(PATHS_REPO)).flatMap((g) => g.files.map((f) => f.name)).sort();
    expect(models).toEqual(['ok-Q4_0.gguf', 'ok-Q8_0.gguf']);
  });

  test('a repository the hub does not have is one line naming it and the hub, without the library’s URL noise', async () => {
    const e = await errorOf(new HubClient(hubOf()).files('nope/nope'));
    expect(e).toEqual({ code: 'hub_not_found', message: `no repository nope/nope on ${new URL(hf.server.url).host}: check the name` });
  });
});
