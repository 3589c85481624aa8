/**
 * Images in chats: the ones attached to each message box before they are sent (per composer: a
 * thread, or NEW_CHAT; per edit box: `editKey`, filled with the message's images when it opens), and
 * the stored images shown in the thread, read back from main as data: URLs (by their ref, the
 * image's hash; read once per session). An attached image is stored by main (images.store) as soon as
 * it is picked, pasted or dropped; the message then carries its attachment.
 */
import { readBase64 } from '../../app/read-file';
import { createSlice, PayloadAction } from '@reduxjs/toolkit';
import { ImageAttachment, ImageRef, MessageDTO, NO_VISION } from '../../../../main/ipc/contract';
import { IMAGE_CALLS_IN_FLIGHT, MAX_IMAGE_BYTES, MAX_IMAGES } from '../../../../main/params';
import { call } from '../../app/bridge';
import { ErrorInfo, toErrorInfo } from '../../app/errors';
import type { AppDispatch, RootState } from '../../app/store';
import { createAppAsyncThunk } from '../../app/thunk';

/** The images key of a sent message's edit box. */
export const editKey = (messageId: string): string => `edit:${messageId}`;

/** An image attached to a message box: being stored, or stored (its attachment). */
export interface AttachedImage {
  /** this composer's own id for it (the same image may be attached twice) */
  id: string;
  name: string;
  status: 'storing' | 'ready';
  attachment: ImageAttachment | null;
}

/** A stored image read back for display. */
export interface ImageUrl {
  status: 'loading' | 'ready' | 'error';
  url: string | null;
}

export interface ImagesState {
  /** per composer (a thread id, or NEW_CHAT) */
  attached: Record<string, AttachedImage[]>;
  /** per composer: why the last image could not be attached */
  errors: Record<string, ErrorInfo>;
  /** by ref */
  urls: Record<string, ImageUrl>;
}

const initialState: ImagesState = { attached: {}, errors: {}, urls: {} };

/**
 * The image calls (images.store, images.read) this page has running: at most IMAGE_CALLS_IN_FLIGHT,
 * as many as browser mode's socket runs for a page (it refuses a page that queues too many); the
 * others wait here, in order, each handed the slot of one that ended.
 */
const imageCalls = { running: 0, waiting: [] as (() => void)[] };

async function imageCall<T>(run: () => Promise<T>): Promise<T> {
  if (imageCalls.running < IMAGE_CALLS_IN_FLIGHT) imageCalls.running++;
  else await new Promise<void>((resolve) => imageCalls.waiting.push(resolve));
  try {
    return await run();
  } finally {
    const next = imageCalls.waiting.shift();
    if (next) next();
    else imageCalls.running--;
  }
}

/** Stores one image with main; the data: URL it is shown with comes back with its attachment. */
export const storeImage = createAppAsyncThunk(
  'images/store',
  async (arg: { key: string; id: string; name: string; data: string }, { rejectWithValue }) => {
    try {
      const attachment = await imageCall(() => call('images.store', { name: arg.name, data: arg.data }));
      return { attachment, url: `data:${attachment.mimeType};base64,${arg.data}` };
    } catch (e) {
      return rejectWithValue(toErrorInfo(e));
    }
  },
);

/** Reads a stored image back (once: a ref already read or being read is not asked again). */
export const loadImage = createAppAsyncThunk(
  'images/read',
  async (ref: string, { rejectWithValue }) => {
    try {
      return (await imageCall(() => call('images.read', { ref }))).url;
    } catch (e) {
      return rejectWithValue(toErrorInfo(e));
    }
  },
  { condition: (ref, { getState }) => ImageRef.safeParse(ref).success && !getState().images.urls[ref] },
);

let nextId = 0;

/**
 * Attaches files to a composer (picked, pasted or dropped): each is stored with main, which checks
 * that it is an image a model reads. Refused at once, with the reason: images for a loaded model that
 * reads none, more than MAX_IMAGES on one message, a file over MAX_IMAGE_BYTES.
 */
export function attachImages(key: string, files: readonly File[]) {
  return async (dispatch: AppDispatch, getState: () => RootState): Promise<void> => {
    const { loaded, loading } = getState().models.state;
    if (loaded && !loading && loaded.projector === null) {
      dispatch(imageRefused({ key, error: { code: 'invalid_input', message: NO_VISION } }));
      return;
    }
    dispatch(imageRefused({ key, error: null }));
    await Promise.all(
      files.map(async (file) => {
        const name = file.name || 'pasted image';
        const count = getState().images.attached[key]?.length ?? 0;
        if (count >= MAX_IMAGES) return dispatch(imageRefused({ key, error: { code: 'invalid_input', message: `a message may carry at most ${MAX_IMAGES} images` } }));
        if (file.size === 0) return dispatch(imageRefused({ key, error: { code: 'invalid_input', message: `${name} is empty: it is no image` } }));
        if (file.size > MAX_IMAGE_BYTES) return dispatch(imageRefused({ key, error: { code: 'too_large', message: `${name} has ${file.size} bytes; an image may have at most ${MAX_IMAGE_BYTES}` } }));
        const id = `image-${++nextId}`;
        dispatch(imageAdded({ key, id, name }));
        let data: string;
        try {
          data = await readBase64(file);
        } catch (e) {
          dispatch(imageRemoved({ key, id }));
          return dispatch(imageRefused({ key, error: { code: 'invalid_input', message: `${name} could not be read: ${(e as Error).message}` } }));
        }
        return dispatch(storeImage({ key, id, name, data }));
      }),
    );
  };
}

const imagesSlice = createSlice({
  name: 'images',
  initialState,
  reducers: {
    /** a message box opens with these images (an edit box with its message's): they replace what it had */
    imagesSet: {
      reducer(state, a: PayloadAction<{ key: string; images: AttachedImage[] }>) {
        state.attached[a.payload.key] = a.payload.images;
        delete state.errors[a.payload.key];
      },
      prepare: (key: string, attachments: readonly ImageAttachment[]) => ({
        payload: { key, images: attachments.map((attachment): AttachedImage => ({ id: `image-${++nextId}`, name: attachment.name, status: 'ready', attachment })) },
      }),
    },
    imageAdded(state, a: PayloadAction<{ key: string; id: string; name: string }>) {
      (state.attached[a.payload.key] ??= []).push({ id: a.payload.id, name: a.payload.name, status: 'storing', attachment: null });
    },
    imageRemoved(state, a: PayloadAction<{ key: string; id: string }>) {
      const list = state.attached[a.payload.key];
      if (list) state.attached[a.payload.key] = list.filter((i) => i.id !== a.payload.id);
    },
    imageRefused(state, a: PayloadAction<{ key: string; error: ErrorInfo | null }>) {
      if (a.payload.error) state.errors[a.payload.key] = a.payload.error;
      else delete state.errors[a.payload.key];
    },
    /** the composer's images went with its message (send): cleared; put back when the send fails */
    imagesTaken(state, a: PayloadAction<string>) {
      delete state.attached[a.payload];
      delete state.errors[a.payload];
    },
    imagesReturned(state, a: PayloadAction<{ key: string; images: AttachedImage[] }>) {
      state.attached[a.payload.key] = [...a.payload.images, ...(state.attached[a.payload.key] ?? [])];
    },
  },
  extraReducers: (b) => {
    b.addCase(storeImage.fulfilled, (s, a) => {
      const { attachment, url } = a.payload;
      s.urls[attachment.ref] = { status: 'ready', url };
      const img = s.attached[a.meta.arg.key]?.find((i) => i.id === a.meta.arg.id);
      if (img) Object.assign(img, { status: 'ready', attachment });
    })
      .addCase(storeImage.rejected, (s, a) => {
        const { key, id } = a.meta.arg;
        const list = s.attached[key];
        if (list) s.attached[key] = list.filter((i) => i.id !== id);
        s.errors[key] = a.payload ?? { code: 'internal', message: a.error.message ?? 'failed' };
      })
      .addCase(loadImage.pending, (s, a) => {
        s.urls[a.meta.arg] = { status: 'loading', url: null };
      })
      .addCase(loadImage.fulfilled, (s, a) => {
        s.urls[a.meta.arg] = { status: 'ready', url: a.payload };
      })
      .addCase(loadImage.rejected, (s, a) => {
        if (a.meta.condition) return;
        s.urls[a.meta.arg] = { status: 'error', url: null };
      });
  },
});

export const { imagesSet, imageAdded, imageRemoved, imageRefused, imagesTaken, imagesReturned } = imagesSlice.actions;
export default imagesSlice.reducer;

const NONE: AttachedImage[] = [];
export const selectAttachedImages = (s: RootState, key: string): AttachedImage[] => s.images.attached[key] ?? NONE;
export const selectImageError = (s: RootState, key: string): ErrorInfo | undefined => s.images.errors[key];
export const selectImageUrl = (s: RootState, ref: string): ImageUrl | undefined => s.images.urls[ref];
/** Why the composer cannot take images now (the loaded model reads none), or null. */
export const selectNoImagesReason = (s: RootState): string | null => {
  const { loaded, loading } = s.models.state;
  return loaded && !loading && loaded.projector === null ? NO_VISION : null;
};
/** What a message box's images send: the attachments of those stored. */
export const attachmentsOf = (images: readonly AttachedImage[]): ImageAttachment[] => images.flatMap((i) => (i.attachment ? [i.attachment] : []));
/** A message's images that Hearth stored, as chat.send and chat.edit take them (an import's image is not one). */
export const storedAttachments = (m: MessageDTO): ImageAttachment[] =>
  m.attachments.flatMap((a) => {
    const r = ImageAttachment.safeParse(a);
    return r.success ? [r.data] : [];
  });
/** A message's images (an import's image that names no stored file is shown by its name only). */
export function imagesOf(m: MessageDTO): { ref: string; name: string; stored: boolean }[] {
  return m.attachments.filter((a) => a.type === 'image').map((a) => ({ ref: a.ref, name: a.name ?? 'image', stored: ImageRef.safeParse(a.ref).success }));
}
