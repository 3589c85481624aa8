/**
 * The remote providers' shapes on the contract (main/providers/ keeps and uses them). An API key
 * crosses only towards main (providers.save); what comes back says whether one is set and shows it
 * masked. zod only: the renderer imports this file too.
 */
import { z } from 'zod';
import { ProviderApiKey, ProviderConfig, ProviderId } from '../params';

export const ProviderDTO = ProviderConfig.extend({
  /** whether an API key is kept for it */
  key: z.enum(['set', 'not set']),
  /** the key masked (its last four characters), null when none is set */
  keyHint: z.string().nullable(),
});
export type ProviderDTO = z.infer<typeof ProviderDTO>;

export const ProvidersStatusDTO = z.object({
  /** off: remote providers are forbidden (no request goes to one) */
  allowRemote: z.boolean(),
  providers: z.array(ProviderDTO),
  /** where the keys are kept: the OS keychain, or a file only this user may read (browser mode: with a warning) */
  keyStorage: z.enum(['keychain', 'file']),
  warnings: z.array(z.string()),
});
export type ProvidersStatusDTO = z.infer<typeof ProvidersStatusDTO>;

/** Adds a provider (no id) or changes one; apiKey: absent keeps the kept key, null forgets it. */
export const ProviderSave = z
  .object({
    provider: ProviderConfig.omit({ id: true }).extend({ id: ProviderId.optional() }).strict(),
    apiKey: ProviderApiKey.nullable().optional(),
  })
  .strict();
export type ProviderSave = z.input<typeof ProviderSave>;
