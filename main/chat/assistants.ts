/** The assistants.* channels: named instructions, sampling and model a chat can start with. */
import { IpcError } from '../ipc/contract';
import type { Handlers } from '../services';
import type { Store } from '../store';
import { toAssistantDTO } from './dto';
import { ChatViews } from './views';

export function assistantChannels(deps: { store: Store; views: ChatViews }): Handlers {
  const { store, views } = deps;
  return {
    'assistants.list': () => store.assistants.list().map((a) => toAssistantDTO(a, views.defaultAssistantId())),
    'assistants.create': (r) =>
      toAssistantDTO(
        store.assistants.create({ name: r.name, avatar: r.emoji, instructions: r.instructions, sampling: r.sampling, model: r.modelPath, tools: r.tools }),
        views.defaultAssistantId(),
      ),
    'assistants.update': (r) => {
      const p = r.patch;
      const patch = {
        ...(p.name !== undefined ? { name: p.name } : {}),
        ...(p.emoji !== undefined ? { avatar: p.emoji } : {}),
        ...(p.instructions !== undefined ? { instructions: p.instructions } : {}),
        ...(p.sampling !== undefined ? { sampling: p.sampling } : {}),
        ...(p.modelPath !== undefined ? { model: p.modelPath } : {}),
        ...(p.tools !== undefined ? { tools: p.tools } : {}),
      };
      return toAssistantDTO(store.assistants.update(r.id, patch), views.defaultAssistantId());
    },
    'assistants.delete': (r) => {
      if (r.id === views.defaultAssistantId()) throw new IpcError('invalid_input', 'the default assistant cannot be deleted');
      store.assistants.delete(r.id);
      return { ok: true as const };
    },
  };
}
