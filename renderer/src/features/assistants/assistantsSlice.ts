/** Assistants (name, emoji, instructions, sampling defaults, model, tools) and the one picked for the next new chat. */
import { createEntityAdapter, createSlice, EntityState, PayloadAction } from '@reduxjs/toolkit';
import type { AssistantDTO, SamplingDTO } from '../../../../main/ipc/contract';
import type { AssistantTools } from '../../../../main/params';
import { call } from '../../app/bridge';
import { toErrorInfo } from '../../app/errors';
import type { RootState } from '../../app/store';
import { createAppAsyncThunk } from '../../app/thunk';

export interface AssistantInput {
  name: string;
  emoji?: string;
  instructions?: string;
  sampling?: SamplingDTO;
  modelPath?: string | null;
  /** the tools its chats are offered; null: every enabled one */
  tools?: AssistantTools | null;
}

const adapter = createEntityAdapter<AssistantDTO>();

export interface AssistantsState extends EntityState<AssistantDTO, string> {
  /** picked on the new-chat screen; null = the default assistant */
  pickedForNew: string | null;
  status: 'idle' | 'loading' | 'ready' | 'error';
}

const initialState: AssistantsState = adapter.getInitialState({ pickedForNew: null, status: 'idle' });

export const fetchAssistants = createAppAsyncThunk('assistants/list', async (_: void, { rejectWithValue }) => {
  try {
    return await call('assistants.list', {});
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

export const createAssistant = createAppAsyncThunk('assistants/create', async (input: AssistantInput, { rejectWithValue }) => {
  try {
    return await call('assistants.create', input);
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

export const updateAssistant = createAppAsyncThunk(
  'assistants/update',
  async (arg: { id: string; patch: Partial<AssistantInput> }, { rejectWithValue }) => {
    try {
      return await call('assistants.update', arg);
    } catch (e) {
      return rejectWithValue(toErrorInfo(e));
    }
  },
);

export const deleteAssistant = createAppAsyncThunk('assistants/delete', async (id: string, { rejectWithValue }) => {
  try {
    await call('assistants.delete', { id });
    return id;
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

const assistantsSlice = createSlice({
  name: 'assistants',
  initialState,
  reducers: {
    assistantPicked(state, a: PayloadAction<string | null>) {
      state.pickedForNew = a.payload;
    },
  },
  extraReducers: (b) => {
    b.addCase(fetchAssistants.pending, (s) => {
      s.status = 'loading';
    })
      .addCase(fetchAssistants.fulfilled, (s, a) => {
        adapter.setAll(s, a.payload);
        s.status = 'ready';
        if (s.pickedForNew && !s.entities[s.pickedForNew]) s.pickedForNew = null;
      })
      .addCase(fetchAssistants.rejected, (s) => {
        s.status = 'error';
      })
      .addCase(createAssistant.fulfilled, (s, a) => {
        adapter.upsertOne(s, a.payload);
      })
      .addCase(updateAssistant.fulfilled, (s, a) => {
        adapter.upsertOne(s, a.payload);
      })
      .addCase(deleteAssistant.fulfilled, (s, a) => {
        adapter.removeOne(s, a.payload);
        if (s.pickedForNew === a.payload) s.pickedForNew = null;
      });
  },
});

export const { assistantPicked } = assistantsSlice.actions;
export default assistantsSlice.reducer;

const sel = adapter.getSelectors((s: RootState) => s.assistants);
export const selectAssistants = sel.selectAll;
export const selectAssistantById = sel.selectById;

/** The assistant a new chat gets: the picked one, else the default one, else none. */
export function selectAssistantForNew(s: RootState): AssistantDTO | null {
  const picked = s.assistants.pickedForNew ? s.assistants.entities[s.assistants.pickedForNew] : undefined;
  if (picked) return picked;
  return sel.selectAll(s).find((a) => a.isDefault) ?? null;
}
