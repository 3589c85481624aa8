/**
 * The remote providers: their configs in the store's settings (`providers`), their API keys and extra
 * headers' values in a secret store of their own (<data>/provider-secrets.json: the OS keychain where
 * there is one; the settings hold the headers' names with "" values), the
 * providers.* channels, and a remote reply for the chat service (./client.ts). A key leaves the
 * secret store only towards its provider: the page sees it masked. Every change is told
 * (providers.changed).
 */
import { randomUUID } from 'crypto';
import { untilAborted } from '../abort';
import type { GenerateResult } from '../engine/protocol';
import { IpcError } from '../ipc/contract';
import type { ProviderDTO, ProviderSave, ProvidersStatusDTO } from '../ipc/providers';
import type { Logger } from '../logging';
import { DEFAULT_REMOTE_CONTEXT, LLAMA_CPP_SERVER, MAX_PROVIDERS, MAX_PROVIDER_MODELS, parseRemoteModelRef, PROVIDER_LIST_TIMEOUT_MS, PROVIDER_PROPS_TIMEOUT_MS, ProviderConfig, ProviderModel, ProviderSettings, unshelveProviders } from '../params';
import type { SecretStore } from '../secrets';
import type { Handlers, Services } from '../services';
import type { Store } from '../store';
import { listRemoteModels, remoteChat, type ProviderAccess, type RemoteChatOptions, type RemoteChatRequest } from './client';
import { type PropsAnswer, serverKeepsReasoning } from './server-props';

const keyName = (id: string) => `provider.${id}.key`;
/** An extra header's value (header names are case-insensitive: one secret per name) */
const headerName = (id: string, header: string) => `provider.${id}.header.${header.toLowerCase()}`;
const providerPrefix = (id: string) => `provider.${id}.`;

/**
 * How long a server's answer to whether its template keeps reasoning is held (./server-props.ts
 * PropsAnswer): an answer a minute (a server restarted with another model is asked again after); no
 * answer 10 s (a server still loading, a key being fixed, a router that loads only by hand); a time-out
 * or a failed load 5 minutes (a server that does not answer /props, or fails to load the model, would
 * otherwise add its wait to a turn every few messages).
 */
const PROPS_HELD_MS: Readonly<Record<PropsAnswer, number>> = { keeps: 60_000, drops: 60_000, 'no-answer': 10_000, 'timed-out': 300_000, 'load-failed': 300_000 };

/** An http:// URL to another machine (not loopback). */
function plainRemote(url: string): boolean {
  const u = new URL(url);
  return u.protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(u.hostname) && !u.hostname.startsWith('127.');
}

/** What the page says of providers kept aside (salvageProviderSettings). */
function shelvedWarning(n: number): string {
  const them = n === 1 ? 'it' : 'them';
  return `${n === 1 ? 'One provider is' : `${n} providers are`} kept as saved but not shown: this version cannot list ${them} (saved by another version of Hearth with a kind or setting this one does not know, a damaged entry, one past the ${MAX_PROVIDERS} providers it lists, or one named like a listed provider). A version that reads ${them}, with room, shows ${them} again.`;
}

/** A key as the page sees it: its last four characters (none of a short key). */
export function maskKey(key: string): string {
  return key.length >= 12 ? `••••${key.slice(-4)}` : '••••';
}

export interface ProviderServiceDeps {
  store: Store;
  services: Services;
  secrets: SecretStore;
  logger: Logger;
  /** how long a model list waits (PROVIDER_LIST_TIMEOUT_MS unless given) */
  listTimeoutMs?: number;
  /** how long a reply waits for its first piece and between pieces (the clients' default unless given) */
  chatTimeoutMs?: number;
}

/** A remote model a thread runs on, resolved: its provider (with its key), the model, its context. */
export interface RemoteTarget {
  access: ProviderAccess;
  model: string;
  contextSize: number;
}

export class ProviderService {
  /** per provider and model: whether its llama.cpp-family server's template keeps reasoning, until when that is held */
  private readonly keeps = new Map<string, { keeps: boolean; until: number }>();
  /** per provider and model: the question being asked (turns at once share it) */
  private readonly asking = new Map<string, Promise<PropsAnswer>>();

  constructor(private readonly deps: ProviderServiceDeps) {}

  /** The providers setting, with any shelved provider this build reads taken back into the list (unshelveProviders). */
  settings(): ProviderSettings {
    return unshelveProviders(this.deps.store.settings.get('providers'));
  }

  private write(s: ProviderSettings): void {
    this.deps.store.settings.set('providers', ProviderSettings.parse(s));
  }

  status(): ProvidersStatusDTO {
    const s = this.settings();
    const providers: ProviderDTO[] = s.list.map((p) => {
      const key = this.deps.secrets.raw(keyName(p.id)) ? this.deps.secrets.get(keyName(p.id)) : null;
      // the extra headers' values are secrets too (an api-key header, a gateway's token): the page sees their names
      return { ...p, headers: Object.fromEntries(Object.keys(p.headers).map((h) => [h, ''])), key: key ? 'set' : 'not set', keyHint: key ? maskKey(key) : null };
    });
    const warnings = [
      ...(this.deps.secrets.kind === 'file' && providers.some((p) => p.key === 'set')
        ? ['API keys are kept in a file only you can read (provider-secrets.json in the data folder), not in an OS keychain: this is browser mode, or no keychain was found.']
        : []),
      // a key sent in clear over the network (loopback is this machine)
      ...providers.filter((p) => p.key === 'set' && plainRemote(p.baseUrl)).map((p) => `${p.name} is reached over plain http:// beyond this machine: its API key and your messages travel unencrypted.`),
      ...(s.shelved ? [shelvedWarning(s.shelved.length)] : []),
    ];
    return { allowRemote: s.allowRemote, providers, keyStorage: this.deps.secrets.kind, warnings };
  }

  private changed(): ProvidersStatusDTO {
    const st = this.status();
    this.deps.services.emit('providers.changed', st);
    return st;
  }

  private find(id: string): ProviderConfig {
    const p = this.settings().list.find((x) => x.id === id);
    if (!p) throw new IpcError('not_found', `no provider ${id}`);
    return p;
  }

  /** Adds or changes a provider; its key kept (apiKey absent), set, or forgotten (null). */
  save(r: ProviderSave): ProvidersStatusDTO {
    const s = this.settings();
    const id = r.provider.id ?? randomUUID();
    if (r.provider.id !== undefined) this.find(r.provider.id);
    const parsed = ProviderConfig.safeParse({ ...r.provider, id });
    if (!parsed.success) throw new IpcError('invalid_input', parsed.error.issues.map((i) => `${i.path.join('.') || 'provider'}: ${i.message}`).join('; '));
    const others = s.list.filter((p) => p.id !== id);
    if (others.some((p) => p.name.toLowerCase() === parsed.data.name.toLowerCase())) throw new IpcError('invalid_input', `a provider is already named ${parsed.data.name}`);
    const at = s.list.findIndex((p) => p.id === id);
    const list = at >= 0 ? s.list.map((p, i) => (i === at ? parsed.data : p)) : [...s.list, parsed.data];
    const next = ProviderSettings.safeParse({ ...s, list });
    if (!next.success) throw new IpcError('invalid_input', next.error.issues.map((i) => i.message).join('; '));
    // a kept key goes only where it was given for: a provider moved to another origin (or kind) without a key
    // given with the move forgets it (a page could otherwise send it to a host of its choosing)
    const before = at >= 0 ? s.list[at] : null;
    const moved = before !== null && (new URL(before.baseUrl).origin !== new URL(parsed.data.baseUrl).origin || before.kind !== parsed.data.kind);
    if (r.apiKey !== undefined) this.deps.secrets.set(keyName(id), r.apiKey);
    else if (moved && this.deps.secrets.raw(keyName(id))) {
      this.deps.secrets.set(keyName(id), null);
      this.deps.logger.info(`providers: ${parsed.data.name} moved to another address or kind: its key was forgotten`);
    }
    // the extra headers' values go to the secret store ("" here): a value given replaces the kept one, "" keeps
    // it (not after a move: the same rule as the key), a header left out forgets it
    const headers: Record<string, string> = {};
    const keptBefore = new Set(Object.keys(before?.headers ?? {}).map((h) => h.toLowerCase()));
    for (const [h, value] of Object.entries(parsed.data.headers)) {
      if (value !== '') this.deps.secrets.set(headerName(id, h), value);
      else if (moved || !keptBefore.has(h.toLowerCase())) this.deps.secrets.set(headerName(id, h), null);
      headers[h] = '';
    }
    for (const h of keptBefore) if (!Object.keys(headers).some((x) => x.toLowerCase() === h)) this.deps.secrets.set(headerName(id, h), null);
    const stored = { ...next.data, list: next.data.list.map((p) => (p.id === id ? { ...p, headers } : p)) };
    this.write(stored);
    this.forgetProps(id);
    this.deps.logger.info(`providers: ${at >= 0 ? 'changed' : 'added'} ${parsed.data.name} (${parsed.data.kind})`);
    return this.changed();
  }

  delete(id: string): ProvidersStatusDTO {
    const p = this.find(id);
    const s = this.settings();
    this.write({ ...s, list: s.list.filter((x) => x.id !== id) });
    this.forgetProps(id);
    this.deps.secrets.deletePrefix(providerPrefix(id));
    this.deps.logger.info(`providers: removed ${p.name}`);
    return this.changed();
  }

  allow(allowRemote: boolean): ProvidersStatusDTO {
    this.write({ ...this.settings(), allowRemote });
    return this.changed();
  }

  /** A provider with its key and its extra headers' values, as the clients send them (a header without a value is left out). */
  private access(p: ProviderConfig): ProviderAccess {
    const headers: Record<string, string> = {};
    for (const h of Object.keys(p.headers)) {
      const v = this.deps.secrets.get(headerName(p.id, h));
      if (v) headers[h] = v;
    }
    return { config: { ...p, headers }, apiKey: this.deps.secrets.get(keyName(p.id)) };
  }

  /** Asks the provider for its models; adds those not listed yet (the listed ones keep their context). */
  async refreshModels(id: string): Promise<ProvidersStatusDTO> {
    const p = this.find(id);
    if (!this.settings().allowRemote) throw new IpcError('remote_forbidden', 'remote providers are turned off in Settings → Providers: nothing is sent to one');
    const signal = AbortSignal.timeout(this.deps.listTimeoutMs ?? PROVIDER_LIST_TIMEOUT_MS);
    const ids = await listRemoteModels(this.access(p), signal, this.deps.listTimeoutMs ?? PROVIDER_LIST_TIMEOUT_MS);
    // the provider may have changed meanwhile (renamed, removed): the list goes to the one there is now
    const s = this.settings();
    const now = s.list.find((x) => x.id === id);
    if (!now) throw new IpcError('not_found', `no provider ${id}`);
    // the ids a model entry takes (a server's odd ones are left out), each once
    const known = new Set(now.models.map((m) => m.id));
    const added: ProviderModel[] = [];
    for (const raw of ids) {
      const m = ProviderModel.safeParse({ id: raw });
      if (!m.success || known.has(m.data.id)) continue;
      known.add(m.data.id);
      added.push(m.data);
    }
    const models = [...now.models, ...added].slice(0, MAX_PROVIDER_MODELS);
    this.write({ ...s, list: s.list.map((x) => (x.id === id ? { ...x, models } : x)) });
    this.deps.logger.info(`providers: ${p.name} lists ${ids.length} models (${added.length} new)`);
    return this.changed();
  }

  /**
   * The remote model `ref` names, ready to send to: refused when remote providers are forbidden, or
   * its provider is gone or turned off. Null when `ref` is not a remote model.
   */
  target(ref: string | null): RemoteTarget | null {
    const r = parseRemoteModelRef(ref);
    if (!r) return null;
    const s = this.settings();
    if (!s.allowRemote) throw new IpcError('remote_forbidden', 'remote providers are turned off in Settings → Providers');
    const p = s.list.find((x) => x.id === r.providerId);
    if (!p) throw new IpcError('provider_unknown', `the provider of ${r.model} was removed`);
    if (!p.enabled) throw new IpcError('provider_unknown', `${p.name} is turned off`);
    const entry = p.models.find((m) => m.id === r.model);
    return { access: this.access(p), model: r.model, contextSize: entry?.contextSize ?? DEFAULT_REMOTE_CONTEXT };
  }

  /** A remote model's label: "model · provider" (the model alone when its provider is gone). */
  label(ref: string): string | null {
    const r = parseRemoteModelRef(ref);
    if (!r) return null;
    const p = this.settings().list.find((x) => x.id === r.providerId);
    return p ? `${r.model} · ${p.name}` : r.model;
  }

  /**
   * Whether `t`'s server keeps earlier turns' reasoning in its template (./server-props.ts): asked of a
   * llama.cpp-family server only, within PROVIDER_PROPS_TIMEOUT_MS, one question at a time per provider
   * and model (a turn stopped meanwhile stops waiting; the answer is still held); the answer held as
   * PROPS_HELD_MS says, a provider's forgotten when it is changed or removed. Any other provider is no.
   */
  async keepsReasoning(t: RemoteTarget, signal: AbortSignal): Promise<boolean> {
    if (!LLAMA_CPP_SERVER[t.access.config.kind]) return false;
    // the address too: a turn that resolved its provider before a change asks the old one, whose answer is not the new one's
    const key = `${t.access.config.id}\u0000${t.access.config.baseUrl}\u0000${t.model}`;
    const held = this.keeps.get(key);
    if (held && Date.now() < held.until) return held.keeps;
    let asking = this.asking.get(key);
    if (!asking) {
      // asked for whoever waits: a turn's stop ends its own wait, not the question
      const question: Promise<PropsAnswer> = serverKeepsReasoning(t.access, t.model, new AbortController().signal, PROVIDER_PROPS_TIMEOUT_MS).then((said) => {
        // a provider changed while it was asked: its old address's answer is not held
        if (this.asking.get(key) !== question) return said;
        this.asking.delete(key);
        if (this.keeps.size >= MAX_PROVIDERS * 8) this.keeps.clear();
        this.keeps.set(key, { keeps: said === 'keeps', until: Date.now() + PROPS_HELD_MS[said] });
        this.deps.logger.debug(`providers: ${t.access.config.name} for ${t.model}: ${said}`);
        return said;
      });
      asking = question;
      this.asking.set(key, asking);
    }
    // the question never rejects (serverKeepsReasoning does not throw): a rejection here is the turn's stop
    return untilAborted(asking, signal).then((said) => said === 'keeps', () => false);
  }

  /** Forgets what `id`'s server said (it was changed or removed). */
  private forgetProps(id: string): void {
    for (const held of [this.keeps, this.asking]) for (const key of held.keys()) if (key.startsWith(`${id}\u0000`)) held.delete(key);
  }

  /** One reply from a remote model (./client.ts). */
  chat(t: RemoteTarget, r: Omit<RemoteChatRequest, 'model'>, o: RemoteChatOptions): Promise<GenerateResult> {
    return remoteChat(t.access, { ...r, model: t.model }, { ...(this.deps.chatTimeoutMs ? { timeoutMs: this.deps.chatTimeoutMs } : {}), ...o });
  }

  channels(): Handlers {
    return {
      'providers.status': () => this.status(),
      'providers.save': (r) => this.save(r),
      'providers.delete': (r) => this.delete(r.id),
      'providers.refreshModels': (r) => this.refreshModels(r.id),
      'providers.allow': (r) => this.allow(r.allowRemote),
    };
  }
}
