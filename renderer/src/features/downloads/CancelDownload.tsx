/**
 * Cancel for a download (the downloads panel's row, the hub page's file row): a labelled text
 * button, not an icon, so it is never mistaken for the panel's close ×. When some bytes are on disk
 * it asks first, inline ("Cancel this download? The N MiB downloaded are deleted. [Keep] [Cancel
 * download]"): a cancel deletes the partial file and has no undo. Whether it is asking is this
 * component's own UI state; the cancel itself is the downloads slice's thunk.
 */
import { useEffect, useRef, useState } from 'react';
import { formatBytes } from '../../app/format';
import { useAppDispatch } from '../../app/hooks';
import { cancelDownload } from './downloadsSlice';

export function CancelDownload({ name, ids, bytes }: { name: string; ids: string[]; bytes: number }) {
  const dispatch = useAppDispatch();
  const [asking, setAsking] = useState(false);
  const keepRef = useRef<HTMLButtonElement>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);
  const wasAsking = useRef(false);
  useEffect(() => {
    // focus follows the question: on Keep (the safe answer) when it appears, back on Cancel when kept
    if (asking) keepRef.current?.focus();
    else if (wasAsking.current) cancelRef.current?.focus();
    wasAsking.current = asking;
  }, [asking]);
  const cancel = () => ids.forEach((id) => void dispatch(cancelDownload({ id })));
  if (asking) {
    return (
      <span className="cancel-confirm" role="group" aria-label={`Cancel ${name}?`}>
        <span>Cancel this download? The {formatBytes(bytes)} downloaded are deleted.</span>
        <button type="button" className="button small" ref={keepRef} aria-label={`Keep downloading ${name}`} onClick={() => setAsking(false)}>
          Keep
        </button>
        <button type="button" className="button small danger-fill" aria-label={`Cancel download of ${name}`} onClick={cancel}>
          Cancel download
        </button>
      </span>
    );
  }
  return (
    <button type="button" className="button small cancel-download" ref={cancelRef} aria-label={`Cancel ${name}`} title="Cancel (deletes the partial file)" onClick={() => (bytes > 0 ? setAsking(true) : cancel())}>
      Cancel
    </button>
  );
}
