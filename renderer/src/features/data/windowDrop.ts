/**
 * Files dropped on the window outside the message boxes (the composer and an edit box take their
 * own drops: images and documents, and call preventDefault): a chat export (.json or .zip) opens
 * Settings → Data and goes to the import's preview; any other file is not opened by the browser
 * (which would leave the app) and a toast says where files go.
 */
import type { AppDispatch } from '../../app/store';
import { openDialog, toastAdded } from '../../app/uiSlice';
import { importFile } from './thunks';

/** The files an import of another app's chats reads (a ChatGPT or Claude export is a .zip). */
export const IMPORT_EXTENSIONS = ['json', 'zip'] as const;

export const isImportFile = (f: File): boolean => (IMPORT_EXTENSIONS as readonly string[]).includes(f.name.split('.').pop()?.toLowerCase() ?? '');

const carriesFiles = (e: DragEvent) => Array.from(e.dataTransfer?.types ?? []).includes('Files');

/** Listens on `win` for drops; returns the function that stops listening. */
export function startWindowDrop(dispatch: AppDispatch, win: Window = window): () => void {
  const onDragOver = (e: DragEvent) => {
    if (e.defaultPrevented || !carriesFiles(e)) return;
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
  };
  const onDrop = (e: DragEvent) => {
    // a message box took it
    if (e.defaultPrevented) return;
    const files = Array.from(e.dataTransfer?.files ?? []);
    if (!files.length) return;
    e.preventDefault();
    const file = files.find(isImportFile);
    if (!file) {
      dispatch(toastAdded({ kind: 'info', text: 'To import chats, drop a chat export (.json or .zip); a Jan or LM Studio folder: hearth chats import FOLDER. To attach a file, drop it on the message box.' }));
      return;
    }
    dispatch(openDialog({ name: 'settings', section: 'data' }));
    void dispatch(importFile({ file, from: 'auto' })).then((r) => {
      // refused before it began: another import is under way
      if (importFile.rejected.match(r) && r.meta.condition) dispatch(toastAdded({ kind: 'info', text: `${file.name} was not imported: another import is under way (Settings → Data).` }));
    });
  };
  win.addEventListener('dragover', onDragOver);
  win.addEventListener('drop', onDrop);
  return () => {
    win.removeEventListener('dragover', onDragOver);
    win.removeEventListener('drop', onDrop);
  };
}
