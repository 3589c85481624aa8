/**
 * Images in the chat: a message box's "Attach files" button (a file picker of the images a model reads and the documents Hearth reads),
 * the chips of the images a message box holds (the composer's next message, an edit box's message),
 * and a sent message's images, each read back from main once (./imagesSlice.ts).
 */
import { useEffect, useId, useRef } from 'react';
import { DOC_EXTENSIONS, IMAGE_MIME_TYPES } from '../../../../main/params';
import { describeError } from '../../app/errors';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { Icon } from '../../components/Icon';
import { type AttachedImage, imageRefused, imageRemoved, imagesOf, loadImage, selectAttachedImages, selectImageError, selectImageUrl, selectNoImagesReason } from './imagesSlice';
import type { MessageDTO } from '../../../../main/ipc/contract';

/** What the composer's picker offers: the images a model reads, and the documents Hearth reads (by extension). */
const FILE_ACCEPT = [...IMAGE_MIME_TYPES, ...Object.values(DOC_EXTENSIONS).flat().map((e) => `.${e}`)].join(',');

/**
 * The picker's button: "Attach files" where documents are taken too (`documents`: the composer and the
 * edit box), else "Attach image" (no box uses it now). While the loaded model reads no images, "Attach image" is marked disabled
 * (aria-disabled, so it stays focusable), its description says why, and a click shows the reason
 * (`onRefused`); "Attach files" stays enabled (documents need no vision) and its description says why
 * images would be refused.
 */
export function AttachButton({ onFiles, onRefused, documents = false }: { onFiles: (files: File[]) => void; onRefused: () => void; documents?: boolean }) {
  const input = useRef<HTMLInputElement>(null);
  const noImages = useAppSelector(selectNoImagesReason);
  const reasonId = useId();
  const refused = noImages !== null && !documents;
  const reason = noImages && (documents ? `Images cannot be read by this model: ${noImages}` : `Images cannot be attached: ${noImages}`);
  return (
    <>
      <button
        type="button"
        className="icon-button attach-button"
        aria-label={documents ? 'Attach files' : 'Attach image'}
        title={reason ?? (documents ? 'Attach images or documents (or paste or drop them)' : 'Attach image (or paste or drop one)')}
        aria-disabled={refused || undefined}
        aria-describedby={noImages ? reasonId : undefined}
        onClick={() => (refused ? onRefused() : input.current?.click())}
      >
        <Icon name={documents ? 'plus' : 'image'} />
      </button>
      {noImages && (
        <span id={reasonId} className="visually-hidden">
          {reason}
        </span>
      )}
      <input
        ref={input}
        type="file"
        aria-label={documents ? 'Choose files' : 'Choose images'}
        accept={documents ? FILE_ACCEPT : IMAGE_MIME_TYPES.join(',')}
        multiple
        hidden
        onChange={(e) => {
          const files = Array.from(e.target.files ?? []);
          e.target.value = ''; // the same file can be picked again
          onFiles(files);
        }}
      />
    </>
  );
}

/** One image of a message box: stored (read back once when it came from a sent message), or being stored. */
function Chip({ composerKey, image }: { composerKey: string; image: AttachedImage }) {
  const dispatch = useAppDispatch();
  const ref = image.attachment?.ref ?? null;
  const url = useAppSelector((s) => (ref ? selectImageUrl(s, ref) : undefined));
  useEffect(() => {
    if (ref) void dispatch(loadImage(ref));
  }, [dispatch, ref]);
  const what = !ref ? 'attaching' : url?.status === 'error' ? 'no longer stored' : 'loading';
  return (
    <li className={`image-chip${image.status === 'storing' ? ' storing' : ''}`} aria-busy={image.status === 'storing' || undefined}>
      {url?.url ? <img src={url.url} alt={image.name} /> : <span className="image-chip-placeholder" role="img" aria-label={`${image.name} (${what})`} />}
      <span className="image-chip-name">{image.name}</span>
      <button type="button" className="icon-button small" aria-label={`Remove image ${image.name}`} title="Remove" onClick={() => dispatch(imageRemoved({ key: composerKey, id: image.id }))}>
        <Icon name="close" size={14} />
      </button>
    </li>
  );
}

/** The images a message box holds (its `composerKey`: a thread, NEW_CHAT, or `editKey`), and why the last one could not be attached. */
export function ComposerImages({ composerKey }: { composerKey: string }) {
  const dispatch = useAppDispatch();
  const images = useAppSelector((s) => selectAttachedImages(s, composerKey));
  const error = useAppSelector((s) => selectImageError(s, composerKey));
  if (!images.length && !error) return null;
  return (
    <div className="composer-images">
      {images.length > 0 && (
        <ul aria-label="Attached images" className="image-chips">
          {images.map((i) => (
            <Chip key={i.id} composerKey={composerKey} image={i} />
          ))}
        </ul>
      )}
      {error && (
        <p role="alert" className="inline-error">
          {describeError(error)}{' '}
          <button type="button" className="link-button" onClick={() => dispatch(imageRefused({ key: composerKey, error: null }))}>
            Dismiss
          </button>
        </p>
      )}
    </div>
  );
}

function StoredImage({ imageRef, name }: { imageRef: string; name: string }) {
  const dispatch = useAppDispatch();
  const url = useAppSelector((s) => selectImageUrl(s, imageRef));
  useEffect(() => {
    void dispatch(loadImage(imageRef));
  }, [dispatch, imageRef]);
  if (url?.status === 'ready' && url.url) return <img className="message-image" src={url.url} alt={name} />;
  const what = url?.status === 'error' ? `${name} (no longer stored)` : `${name} (loading)`;
  return <span className="message-image placeholder" role="img" aria-label={what} title={what} />;
}

/** A message's images, each with its file name as its text alternative. */
export function MessageImages({ message }: { message: MessageDTO }) {
  const images = imagesOf(message);
  if (!images.length) return null;
  return (
    <div className="message-images" role="group" aria-label="Images">
      {images.map((i, n) =>
        i.stored ? (
          <StoredImage key={`${i.ref}-${n}`} imageRef={i.ref} name={i.name} />
        ) : (
          <span key={`${i.ref}-${n}`} className="message-image placeholder" role="img" aria-label={`${i.name} (not stored by Hearth)`} />
        ),
      )}
    </div>
  );
}
