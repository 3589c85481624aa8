/** Assistants: the list, and a form to create or edit one (instructions, model, sampling defaults, tools, knowledge folders). */
import { FormEvent, useState } from 'react';
import type { AssistantDTO } from '../../../../main/ipc/contract';
import { describeError } from '../../app/errors';
import { formatBytes, modelLabel } from '../../app/format';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { closeDialog } from '../../app/uiSlice';
import { Dialog } from '../../components/Dialog';
import { Icon } from '../../components/Icon';
import { useDiscardGuard, useUnsavedChanges } from '../../components/unsaved';
import { openThread } from '../chat/chatSlice';
import { parseSampling, SamplingFields, samplingToStrings } from '../settings/SamplingFields';
import { AssistantToolsPicker } from '../tools/AssistantToolsPicker';
import { addFolders } from '../documents/docsSlice';
import { KnowledgeFolders } from '../documents/KnowledgeFolders';
import { assistantPicked, createAssistant, deleteAssistant, selectAssistants, updateAssistant } from './assistantsSlice';

interface Draft {
  name: string;
  emoji: string;
  instructions: string;
  modelPath: string;
  sampling: ReturnType<typeof samplingToStrings>;
  tools: AssistantDTO['tools'];
  /** a new assistant's knowledge folders, added once it is created */
  folders: string[];
}

const toDraft = (a: AssistantDTO | null): Draft => ({
  name: a?.name ?? '',
  emoji: a?.emoji ?? '🙂',
  instructions: a?.instructions ?? '',
  modelPath: a?.modelPath ?? '',
  sampling: samplingToStrings(a?.sampling),
  tools: a?.tools ?? null,
  folders: [],
});

function AssistantForm({ assistant, onSaved }: { assistant: AssistantDTO | null; onSaved: (a: AssistantDTO) => void }) {
  const dispatch = useAppDispatch();
  const models = useAppSelector((s) => s.models.list);
  const [d, setD] = useState(() => toDraft(assistant));
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // another assistant (or the saved copy of this one): the form starts again from it, in the same
  // render, so that no render compares the old draft with the new assistant (it would look edited)
  const [shown, setShown] = useState(assistant);
  if (shown !== assistant) {
    setShown(assistant);
    setD(toDraft(assistant));
    setError(null);
  }
  useUnsavedChanges(JSON.stringify(d) !== JSON.stringify(toDraft(assistant)));
  const guard = useDiscardGuard();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!d.name.trim()) return setError('Give the assistant a name.');
    const sampling = parseSampling(d.sampling);
    if ('error' in sampling) return setError(sampling.error);
    const input = { name: d.name.trim(), emoji: d.emoji.trim() || '🙂', instructions: d.instructions, modelPath: d.modelPath || null, sampling: sampling.value, tools: d.tools };
    setBusy(true);
    const r = assistant ? await dispatch(updateAssistant({ id: assistant.id, patch: input })) : await dispatch(createAssistant(input));
    setBusy(false);
    if (createAssistant.fulfilled.match(r) || updateAssistant.fulfilled.match(r)) {
      setError(null);
      onSaved(r.payload);
      // the folders chosen before it existed (their progress and any refusal show in its folder list)
      if (!assistant && d.folders.length > 0) void dispatch(addFolders({ assistantId: r.payload.id, paths: d.folders }));
    } else setError(r.payload ? describeError(r.payload) : 'Could not save the assistant.');
  };

  const remove = async () => {
    if (!assistant) return;
    const r = await dispatch(deleteAssistant(assistant.id));
    if (deleteAssistant.rejected.match(r)) setError(r.payload ? describeError(r.payload) : 'Could not delete the assistant.');
  };

  const useForNewChat = () => {
    if (!assistant) return;
    guard(() => {
      dispatch(assistantPicked(assistant.id));
      dispatch(openThread(null));
      dispatch(closeDialog());
    });
  };

  const knownModel = !d.modelPath || models.some((m) => m.path === d.modelPath);
  return (
    <form className="assistant-form" aria-label={assistant ? `Edit ${assistant.name}` : 'New assistant'} onSubmit={submit}>
      <div className="row">
        <div className="field emoji-field">
          <label htmlFor="assistant-emoji">Emoji</label>
          <input id="assistant-emoji" value={d.emoji} maxLength={16} onChange={(e) => setD({ ...d, emoji: e.target.value })} />
        </div>
        <div className="field grow">
          <label htmlFor="assistant-name">Name</label>
          <input id="assistant-name" value={d.name} required maxLength={100} onChange={(e) => setD({ ...d, name: e.target.value })} />
        </div>
      </div>
      <div className="field">
        <label htmlFor="assistant-instructions">Instructions</label>
        <textarea id="assistant-instructions" rows={6} value={d.instructions} placeholder="You are a helpful assistant…" onChange={(e) => setD({ ...d, instructions: e.target.value })} />
      </div>
      <div className="field">
        <label htmlFor="assistant-model">Model</label>
        <select id="assistant-model" value={d.modelPath} onChange={(e) => setD({ ...d, modelPath: e.target.value })}>
          <option value="">The model picked in the header</option>
          {!knownModel && <option value={d.modelPath}>{modelLabel(d.modelPath)}</option>}
          {models.map((m) => (
            <option key={m.path} value={m.path}>
              {modelLabel(m.name)} · {formatBytes(m.fileSize)}
            </option>
          ))}
        </select>
      </div>
      <AssistantToolsPicker value={d.tools} onChange={(tools) => setD({ ...d, tools })} />
      {assistant ? (
        <KnowledgeFolders assistantId={assistant.id} />
      ) : (
        <KnowledgeFolders pending={{ paths: d.folders, onChange: (folders) => setD({ ...d, folders }) }} />
      )}
      <fieldset>
        <legend>Sampling defaults</legend>
        <SamplingFields values={d.sampling} onChange={(sampling) => setD({ ...d, sampling })} />
      </fieldset>
      {error && (
        <p role="alert" className="inline-error">
          {error}
        </p>
      )}
      <div className="form-actions">
        {assistant && !assistant.isDefault && (
          <button type="button" className="button danger" onClick={() => void remove()}>
            Delete
          </button>
        )}
        {assistant && (
          <button type="button" className="button" onClick={useForNewChat}>
            Start a chat with it
          </button>
        )}
        <button type="submit" className="button primary" disabled={busy}>
          {assistant ? 'Save' : 'Create assistant'}
        </button>
      </div>
    </form>
  );
}

/** The list and the form; picking another assistant (or a new one) asks first when the form holds unsaved edits. */
function AssistantsBody() {
  const assistants = useAppSelector(selectAssistants);
  const guard = useDiscardGuard();
  const [selectedId, setSelectedId] = useState<string | null>(() => assistants[0]?.id ?? null);
  const selected = assistants.find((a) => a.id === selectedId) ?? null;
  const pick = (id: string | null) => id !== selectedId && guard(() => setSelectedId(id));
  return (
    <div className="assistants">
      <div className="assistant-list">
        <ul aria-label="Assistant list">
          {assistants.map((a) => (
            <li key={a.id}>
              <button type="button" className={`list-button${a.id === selectedId ? ' selected' : ''}`} aria-current={a.id === selectedId ? 'true' : undefined} onClick={() => pick(a.id)}>
                <span aria-hidden="true">{a.emoji}</span> {a.name}
                {a.isDefault && <span className="badge">default</span>}
              </button>
            </li>
          ))}
        </ul>
        <button type="button" className="button full" onClick={() => pick(null)}>
          <Icon name="plus" size={15} /> New assistant
        </button>
      </div>
      <AssistantForm assistant={selected} onSaved={(a) => setSelectedId(a.id)} />
    </div>
  );
}

export function AssistantsDialog() {
  const dispatch = useAppDispatch();
  return (
    <Dialog title="Assistants" onClose={() => dispatch(closeDialog())} wide>
      <AssistantsBody />
    </Dialog>
  );
}
