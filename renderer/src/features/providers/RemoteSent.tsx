/**
 * Privacy made visible: a chat whose messages went to remote providers says so, by name — a badge
 * in the header while it is open, a small marker on its row of the chat list (ThreadDTO.remoteSent).
 */
import type { ThreadDTO } from '../../../../main/ipc/contract';
import { Icon } from '../../components/Icon';

const sentTo = (names: string[]) => `Sent to remote providers: ${names.join(', ')}`;

/** The open chat's badge (nothing while its messages stayed on this computer). */
export function RemoteSentBadge({ thread }: { thread: Pick<ThreadDTO, 'remoteSent'> | null }) {
  if (!thread?.remoteSent.length) return null;
  const names = thread.remoteSent;
  return (
    <span className="badge remote-sent" role="status" aria-label={sentTo(names)} title={`${sentTo(names)}. The messages of this chat left this computer.`}>
      <Icon name="globe" size={13} />
      Sent to {names.join(', ')}
    </span>
  );
}

/** The chat list row's marker. */
export function RemoteSentMark({ thread }: { thread: Pick<ThreadDTO, 'remoteSent'> }) {
  if (!thread.remoteSent.length) return null;
  return (
    <span className="remote-mark" role="img" aria-label={sentTo(thread.remoteSent)} title={sentTo(thread.remoteSent)}>
      <Icon name="globe" size={13} />
    </span>
  );
}
