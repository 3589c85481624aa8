/**
 * Settings → Documents: the embedding model (a library model, or none: keyword search only), the
 * rerank model (each offered only the library's models that fit: DocModelField), chunking and the retrieval budgets (the `documents` setting, DocumentSettings' bounds
 * and defaults), saved with the button; and the documents' status (docs.status, then docs.changed):
 * how many documents and chunks, how many have vectors, what is queued, the job under way, and why
 * vectors are off when they are.
 */
import { useState } from 'react';
import { DocumentSettings } from '../../../../main/params';
import { formatInt } from '../../app/format';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { useUnsavedChanges } from '../../components/unsaved';
import { selectSettings, updateSettings } from '../settings/settingsSlice';
import { DocModelField } from './DocModelField';
import { selectDocsStatus } from './docsSlice';

const DEFAULTS = DocumentSettings.parse({});
type NumberKey = 'chunkTokens' | 'chunkOverlapTokens' | 'topK' | 'retrievalTokens' | 'wholeDocumentShare';
type Form = { embeddingModel: string; rerankModel: string } & Record<NumberKey, string>;

/** The number fields, with their bounds read from the setting's schema. */
const NUMBER_FIELDS: { key: NumberKey; label: string; hint: string; step?: number }[] = [
  { key: 'chunkTokens', label: 'Chunk size (tokens)', hint: 'How much text each indexed passage holds. It applies to documents added from now on (Retry on a document indexes it again with it).' },
  { key: 'chunkOverlapTokens', label: 'Chunk overlap (tokens)', hint: 'Text shared by neighbouring chunks (at most a third of the chunk size is used).' },
  { key: 'topK', label: 'Passages per reply (top K)', hint: 'The most passages retrieved for one reply.' },
  { key: 'retrievalTokens', label: 'Retrieval budget (tokens)', hint: 'The most tokens the retrieved passages take in a reply’s prompt.' },
  { key: 'wholeDocumentShare', label: 'Whole-document share of the context', hint: 'A chat’s documents that fit in this share of the context go in whole, without retrieval (0 to 0.9).', step: 0.05 },
];

function bounds(key: NumberKey): { min?: number; max?: number } {
  const def = DocumentSettings.shape[key]._def.innerType;
  return { min: def.minValue ?? undefined, max: def.maxValue ?? undefined };
}

const toForm = (d: DocumentSettings): Form => ({
  embeddingModel: d.embeddingModel ?? '',
  rerankModel: d.rerankModel ?? '',
  ...(Object.fromEntries(NUMBER_FIELDS.map((f) => [f.key, String(d[f.key])])) as Record<NumberKey, string>),
});

/** The documents' status: counts, the job under way with its progress, why vectors are off. */
function DocsStatus() {
  const status = useAppSelector(selectDocsStatus);
  const error = useAppSelector((s) => s.docs.statusError);
  if (error) return <p role="alert" className="inline-error">{error}</p>;
  if (!status) return <p role="status" className="muted">Asking Hearth about its documents…</p>;
  const a = status.active;
  return (
    <section className="docs-status" aria-label="Documents status">
      <dl className="docs-counts">
        <div><dt>Documents</dt><dd>{formatInt(status.documents)}</dd></div>
        <div><dt>Chunks</dt><dd>{formatInt(status.chunks)}</dd></div>
        <div><dt>With vectors</dt><dd>{formatInt(status.embedded)}</dd></div>
        <div><dt>Queued</dt><dd>{formatInt(status.queued)}</dd></div>
      </dl>
      {a && (
        <p className="docs-active">
          {a.phase === 'extracting' ? 'Extracting' : 'Embedding'} {a.name}
          {a.total > 0 && ` (${formatInt(a.done)} of ${formatInt(a.total)})`}{' '}
          {a.total > 0 ? <progress aria-label={`Indexing ${a.name}`} max={a.total} value={a.done} /> : <progress aria-label={`Indexing ${a.name}`} />}
        </p>
      )}
      {status.vectorsOff && (
        <p role="note" className="notice">
          Keyword search only: {status.vectorsOff}
        </p>
      )}
    </section>
  );
}

export function DocumentsSettings() {
  const dispatch = useAppDispatch();
  const saved = useAppSelector(selectSettings)?.documents ?? DEFAULTS;
  const saveError = useAppSelector((s) => s.settings.saveError);
  const [form, setForm] = useState(() => toForm(saved));
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  // main's values when they change (a save, another window), in the same render
  const savedJson = JSON.stringify(saved);
  const [shown, setShown] = useState(savedJson);
  if (shown !== savedJson) {
    setShown(savedJson);
    setForm(toForm(saved));
  }
  const changed = JSON.stringify(form) !== JSON.stringify(toForm(saved));
  useUnsavedChanges(changed);
  const set = (patch: Partial<Form>) => (setForm({ ...form, ...patch }), setNote(null));

  const save = async () => {
    const parsed = DocumentSettings.safeParse({
      embeddingModel: form.embeddingModel || null,
      rerankModel: form.rerankModel || null,
      ...Object.fromEntries(NUMBER_FIELDS.map((f) => [f.key, form[f.key].trim() === '' ? NaN : Number(form[f.key])])),
    });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = NUMBER_FIELDS.find((f) => f.key === issue.path[0]);
      setError(`${field?.label ?? String(issue.path[0])}: ${issue.message}`);
      return;
    }
    setError(null);
    const r = await dispatch(updateSettings({ documents: parsed.data }));
    setNote(updateSettings.fulfilled.match(r) ? 'Saved.' : null);
  };

  return (
    <div className="stack">
      <DocsStatus />
      <form
        aria-label="Documents settings"
        className="stack"
        // the bounds are checked by the setting's schema, its message shown under the form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <DocModelField role="embed" value={form.embeddingModel} onChange={(embeddingModel) => set({ embeddingModel })} />
        <DocModelField role="rerank" value={form.rerankModel} onChange={(rerankModel) => set({ rerankModel })} />
        {NUMBER_FIELDS.map((f) => (
          <div className="field" key={f.key}>
            <label htmlFor={`docs-${f.key}`}>{f.label}</label>
            <input id={`docs-${f.key}`} type="number" inputMode="decimal" step={f.step ?? 1} {...bounds(f.key)} value={form[f.key]} onChange={(e) => set({ [f.key]: e.target.value })} />
            <p className="hint">{f.hint}</p>
          </div>
        ))}
        {(error || saveError) && (
          <p role="alert" className="inline-error">
            {error ?? saveError}
          </p>
        )}
        <div className="form-actions">
          <span role="status" className="muted">
            {note}
          </span>
          <button type="submit" className="button primary" disabled={!changed}>
            Save documents settings
          </button>
        </div>
      </form>
    </div>
  );
}
