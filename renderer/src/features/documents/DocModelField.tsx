/**
 * Settings → Documents' choice of a documents' model for one role (the embedding model, the
 * reranker): the library's models that fit the role by their pooling (LibraryModelDTO.pooling, the one
 * rule docModelMismatch that main/docs/models.ts applies too); a saved choice that does not fit (or
 * is no longer in the library) stays shown, marked with the reason; a library with no fitting model
 * says so, with the way to the hub (the recommended embedding model when the list has one).
 */
import { useEffect, useId } from 'react';
import type { LibraryModelDTO } from '../../../../main/ipc/contract';
import { docModelMismatch, FILE_ROLE_LABELS, loadableRole, type DocModelRole } from '../../../../main/params';
import { modelLabel } from '../../app/format';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { closeDialog, pageShown } from '../../app/uiSlice';
import { useDiscardGuard } from '../../components/unsaved';
import { hubQueryChanged, showHubRepo } from '../hub/hubSlice';
import { fetchRecommended } from '../welcome/welcomeSlice';

/** What each role's field says. */
const ROLES: Record<DocModelRole, { label: string; none: string; hint: string; kind: string; search: string; recommendedUse?: 'embedding' }> = {
  embed: {
    label: 'Embedding model',
    none: 'None (keyword search only)',
    hint: 'A GGUF embedding model (with pooling) finds passages by meaning as well as by words.',
    kind: 'embedding model (a GGUF with pooling, such as Nomic Embed or bge)',
    search: 'embedding',
    recommendedUse: 'embedding',
  },
  rerank: {
    label: 'Rerank model',
    none: 'None',
    hint: 'A reranker (rank pooling) orders the passages found before they go to the model.',
    kind: 'reranker (a GGUF with rank pooling, such as bge-reranker)',
    search: 'reranker',
  },
};

/** Why `m` cannot serve `role`, in words; null when it can. */
export function unfitReason(role: DocModelRole, m: LibraryModelDTO | undefined): string | null {
  if (!m) return 'not in the library';
  if (m.missing) return 'its file is missing';
  if (m.pooling === null) return 'its GGUF header could not be read';
  if (!loadableRole(m.role)) return `it is a ${FILE_ROLE_LABELS[m.role!]}, not a model`;
  return docModelMismatch(role, m.pooling);
}

export function DocModelField({ role, value, onChange }: { role: DocModelRole; value: string; onChange: (path: string) => void }) {
  const dispatch = useAppDispatch();
  const guard = useDiscardGuard();
  const models = useAppSelector((s) => s.models.list);
  const recommended = useAppSelector((s) => s.welcome.recommended);
  const r = ROLES[role];
  const id = useId();
  // until main has listed the library, nothing is judged (a saved choice is shown as it is, no notice)
  const listed = useAppSelector((s) => s.models.listStatus === 'ready');
  const fitting = models.filter((m) => unfitReason(role, m) === null);
  const chosen = models.find((m) => m.path === value);
  const chosenWhy = listed && value ? unfitReason(role, chosen) : null;
  const suggestion = r.recommendedUse ? recommended.models.find((m) => m.use === r.recommendedUse) : undefined;
  const empty = listed && fitting.length === 0;
  // the recommended list names the model to suggest when the library has none
  useEffect(() => {
    if (empty && r.recommendedUse && recommended.status === 'idle') void dispatch(fetchRecommended());
  }, [dispatch, empty, r.recommendedUse, recommended.status]);

  /** Leaves Settings (asking first when edits would be lost) for the hub. */
  const toHub = (then: () => void) =>
    guard(() => {
      dispatch(closeDialog());
      then();
    });

  const describedBy = [`${id}-hint`, chosenWhy && `${id}-why`, empty && `${id}-empty`].filter(Boolean).join(' ');
  return (
    <div className="field">
      <label htmlFor={`${id}-select`}>{r.label}</label>
      <select id={`${id}-select`} value={value} onChange={(e) => onChange(e.target.value)} aria-describedby={describedBy} aria-invalid={chosenWhy ? true : undefined}>
        <option value="">{r.none}</option>
        {value && (chosenWhy || !chosen) && (
          <option value={value}>
            {modelLabel(chosen?.name ?? value)}
            {chosenWhy ? ` (${chosenWhy})` : ''}
          </option>
        )}
        {fitting.map((m) => (
          <option key={m.path} value={m.path}>
            {modelLabel(m.name)}
          </option>
        ))}
      </select>
      <p className="hint" id={`${id}-hint`}>
        {r.hint}
      </p>
      {chosenWhy && (
        <p className="inline-error" id={`${id}-why`}>
          The chosen model, {modelLabel(chosen?.name ?? value)}, cannot be used: {chosenWhy}. Choose another, or none.
        </p>
      )}
      {empty && (
        <div className="notice" id={`${id}-empty`}>
          <p>Your library has no {r.kind}.</p>
          <p>
            {suggestion && (
              <button type="button" className="link-button" onClick={() => toHub(() => dispatch(showHubRepo(suggestion.repo)))}>
                Get {suggestion.name}
              </button>
            )}{' '}
            <button
              type="button"
              className="link-button"
              onClick={() =>
                toHub(() => {
                  dispatch(hubQueryChanged(r.search));
                  dispatch(pageShown('hub'));
                })
              }
            >
              Find {role === 'embed' ? 'embedding models' : 'rerankers'} on the hub
            </button>
          </p>
        </div>
      )}
    </div>
  );
}
