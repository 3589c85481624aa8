/**
 * How a message box takes files, the same in the composer and in a sent message's edit box: the
 * attach picker's files, a pasted file, dropped files, each attached to the box's key (a thread,
 * NEW_CHAT, or an edit: imagesSlice.ts `editKey`). Images go to the attachImages thunk; in a box that
 * takes documents (the composer, the edit box) every other file goes to attachDocuments (main says
 * which kinds it does not read), in one that does not to attachImages too (which says it is no image).
 */
import { ClipboardEvent, DragEvent, useState } from 'react';
import { IMAGE_KINDS } from '../../../../main/params';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { type AttachedDoc, attachDocuments, selectAttachedDocs } from '../documents/docsSlice';
import { type AttachedImage, attachImages, selectAttachedImages } from './imagesSlice';

const IMAGE_EXTENSIONS: readonly string[] = [...IMAGE_KINDS.map((k) => k.ext), 'jpeg', 'webp', 'heic', 'tif', 'tiff'];

/** An image by its MIME type, or (a file that names none) by its extension. */
export function isImageFile(f: File): boolean {
  if (f.type) return f.type.startsWith('image/');
  return IMAGE_EXTENSIONS.includes(f.name.split('.').pop()?.toLowerCase() ?? '');
}

/** A paste's or a drop's files, split into images and the others. */
function split(files: readonly File[]): { images: File[]; others: File[] } {
  return { images: files.filter(isImageFile), others: files.filter((f) => !isImageFile(f)) };
}

export interface AttachImages {
  /** the box's images, in order */
  images: AttachedImage[];
  /** the box's documents, in order (none in a box that takes none) */
  docs: AttachedDoc[];
  /** one of them is still being stored */
  storing: boolean;
  /** files are dragged over the box */
  dragging: boolean;
  /** AttachButton's props: the picked files attach; a click while images are refused says why */
  attachButton: { onFiles: (files: File[]) => void; onRefused: () => void };
  /** the text box's paste: a pasted file attaches; pasted text goes into the box as always */
  onPaste: (e: ClipboardEvent<HTMLElement>) => void;
  /** the box's element: every dropped file is offered (main says which are not images or documents it reads) */
  dropTarget: { onDragOver: (e: DragEvent<HTMLElement>) => void; onDragLeave: () => void; onDrop: (e: DragEvent<HTMLElement>) => void };
}

const NO_DOCS: AttachedDoc[] = [];

export function useAttachImages(key: string, { documents = false }: { documents?: boolean } = {}): AttachImages {
  const dispatch = useAppDispatch();
  const images = useAppSelector((s) => selectAttachedImages(s, key));
  const docs = useAppSelector((s) => (documents ? selectAttachedDocs(s, key) : NO_DOCS));
  const [dragging, setDragging] = useState(false);

  const attach = (files: File[]) => {
    const { images: pics, others } = documents ? split(files) : { images: files, others: [] };
    if (pics.length) void dispatch(attachImages(key, pics));
    if (others.length) void dispatch(attachDocuments(key, others));
  };

  const onPaste = (e: ClipboardEvent<HTMLElement>) => {
    const all = Array.from(e.clipboardData?.files ?? []);
    const files = documents ? all : all.filter(isImageFile);
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
    const files = Array.from(e.dataTransfer?.files ?? []);
    if (!files.length) return;
    e.preventDefault();
    attach(files);
  };

  return {
    images,
    docs,
    storing: images.some((i) => i.status === 'storing') || docs.some((d) => d.status === 'storing'),
    dragging,
    attachButton: { onFiles: attach, onRefused: () => void dispatch(attachImages(key, [])) },
    onPaste,
    dropTarget: { onDragOver, onDragLeave: () => setDragging(false), onDrop },
  };
}
