/**
 * How a message box takes images, the same in the composer and in a sent message's edit box: the
 * "Attach image" picker's files, a pasted image, dropped files, each attached to the box's key (a
 * thread, NEW_CHAT, or an edit: imagesSlice.ts `editKey`) by the attachImages thunk.
 */
import { ClipboardEvent, DragEvent, useState } from 'react';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { type AttachedImage, attachImages, selectAttachedImages } from './imagesSlice';

/** The image files among a paste's or a drop's. */
function imageFiles(list: DataTransfer | null, all: boolean): File[] {
  if (!list) return [];
  return Array.from(list.files).filter((f) => all || f.type.startsWith('image/'));
}

export interface AttachImages {
  /** the box's images, in order */
  images: AttachedImage[];
  /** one of them is still being stored */
  storing: boolean;
  /** files are dragged over the box */
  dragging: boolean;
  /** AttachButton's props: the picked files attach; a click while images are refused says why */
  attachButton: { onFiles: (files: File[]) => void; onRefused: () => void };
  /** the text box's paste: a pasted image attaches; pasted text goes into the box as always */
  onPaste: (e: ClipboardEvent<HTMLElement>) => void;
  /** the box's element: every dropped file is offered (main says which are not images a model reads) */
  dropTarget: { onDragOver: (e: DragEvent<HTMLElement>) => void; onDragLeave: () => void; onDrop: (e: DragEvent<HTMLElement>) => void };
}

export function useAttachImages(key: string): AttachImages {
  const dispatch = useAppDispatch();
  const images = useAppSelector((s) => selectAttachedImages(s, key));
  const [dragging, setDragging] = useState(false);

  const attach = (files: File[]) => {
    if (files.length) void dispatch(attachImages(key, files));
  };

  const onPaste = (e: ClipboardEvent<HTMLElement>) => {
    const files = imageFiles(e.clipboardData, false);
    if (!files.length) return;
    e.preventDefault();
    attach(files);
  };

  const onDragOver = (e: DragEvent<HTMLElement>) => {
    if (!Array.from(e.dataTransfer.types).includes('Files')) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
    setDragging(true);
  };

  const onDrop = (e: DragEvent<HTMLElement>) => {
    setDragging(false);
    const files = imageFiles(e.dataTransfer, true);
    if (!files.length) return;
    e.preventDefault();
    attach(files);
  };

  return {
    images,
    storing: images.some((i) => i.status === 'storing'),
    dragging,
    attachButton: { onFiles: attach, onRefused: () => void dispatch(attachImages(key, [])) },
    onPaste,
    dropTarget: { onDragOver, onDragLeave: () => setDragging(false), onDrop },
  };
}
