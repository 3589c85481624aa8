/** A chat's Export button in the chat list: a small menu of the export formats; the chosen one downloads that chat (exportChats). */
import { FocusEvent, KeyboardEvent, useEffect, useRef, useState } from 'react';
import { EXPORT_FORMATS } from '../../../../main/ipc/contract';
import { useAppDispatch } from '../../app/hooks';
import { Icon } from '../../components/Icon';
import { EXPORT_FORMAT_NAMES, exportChats } from './thunks';

export function ExportMenu({ threadId, title }: { threadId: string; title: string }) {
  const dispatch = useAppDispatch();
  const [open, setOpen] = useState(false);
  const buttonRef = useRef<HTMLButtonElement>(null);
  const menuRef = useRef<HTMLDivElement>(null);
  // the menu opens with its first item focused
  useEffect(() => {
    if (open) menuRef.current?.querySelector<HTMLElement>('[role="menuitem"]')?.focus();
  }, [open]);
  const close = (refocus: boolean) => {
    setOpen(false);
    if (refocus) buttonRef.current?.focus();
  };
  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.key === 'Escape' && open) {
      e.stopPropagation();
      close(true);
      return;
    }
    if (!open || (e.key !== 'ArrowDown' && e.key !== 'ArrowUp')) return;
    e.preventDefault();
    const items = [...e.currentTarget.querySelectorAll<HTMLElement>('[role="menuitem"]')];
    const i = items.indexOf(document.activeElement as HTMLElement);
    items[(i + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length]?.focus();
  };
  const onBlur = (e: FocusEvent<HTMLDivElement>) => {
    if (open && !e.currentTarget.contains(e.relatedTarget as Node | null)) setOpen(false);
  };
  return (
    <div className="export-menu" onKeyDown={onKeyDown} onBlur={onBlur}>
      <button ref={buttonRef} type="button" className="icon-button small" aria-label={`Export ${title}`} title="Export" aria-haspopup="menu" aria-expanded={open} onClick={() => setOpen(!open)}>
        <Icon name="download" size={14} />
      </button>
      {open && (
        <div ref={menuRef} role="menu" aria-label={`Export ${title} as`} className="export-menu-list">
          {EXPORT_FORMATS.map((f) => (
            <button
              key={f}
              type="button"
              role="menuitem"
              onClick={() => {
                close(true);
                void dispatch(exportChats({ threadIds: [threadId], format: f }));
              }}
            >
              {EXPORT_FORMAT_NAMES[f]}
            </button>
          ))}
        </div>
      )}
    </div>
  );
}
