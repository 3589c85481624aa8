/**
 * A modal dialog: role=dialog with its title as name, Escape or the Close button closes it, focus
 * stays inside. Escape closes the topmost dialog wherever focus is (a document listener: focus may
 * have fallen to the page), and a focused control that becomes disabled (a Save button while it
 * saves) hands focus to the dialog rather than letting it fall out to the page. A form in it holding unsaved edits (./unsaved.ts) makes closing, and whatever else
 * goes through the guard, ask "Discard changes?" first (Discard / Keep editing).
 */
import { KeyboardEvent, ReactNode, useEffect, useId, useMemo, useRef, useState } from 'react';
import { Icon } from './Icon';
import { DiscardGuard, DiscardGuardContext, registerDialogGuard } from './unsaved';

/** the open dialogs, innermost last: only the topmost answers an Escape pressed outside it */
const openDialogs: object[] = [];

const FOCUSABLE = 'button:not([disabled]), [href], input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

export function Dialog(props: { title: string; onClose: () => void; children: ReactNode; className?: string; wide?: boolean }) {
  const { title, onClose, children } = props;
  const titleId = useId();
  const askId = useId();
  const ref = useRef<HTMLDivElement>(null);
  const askRef = useRef<HTMLDivElement>(null);
  const onCloseRef = useRef(onClose);
  onCloseRef.current = onClose;
  /** forms holding edits → how each drops them */
  const dirty = useRef(new Map<string, () => void>());
  /** the action waiting for the user's answer, and where focus was when it was asked */
  const [asking, setAsking] = useState<{ then: () => void; from: HTMLElement | null } | null>(null);

  const guard = useMemo<DiscardGuard>(
    () => ({
      setDirty: (id, discard) => (discard ? dirty.current.set(id, discard) : dirty.current.delete(id)),
      confirm: (then) => (dirty.current.size ? setAsking({ then, from: document.activeElement as HTMLElement | null }) : then()),
    }),
    [],
  );
  const close = () => guard.confirm(() => onCloseRef.current());
  /** where focus goes once the asking box is gone and the dialog is no longer inert (an effect: not before) */
  const refocus = useRef<HTMLElement | null>(null);
  const keepEditing = () => {
    const from = asking?.from;
    refocus.current = from && from !== document.body && from.isConnected ? from : ref.current;
    setAsking(null);
  };
  const discard = () => {
    const then = asking?.then;
    for (const drop of [...dirty.current.values()]) drop();
    dirty.current.clear();
    setAsking(null);
    ref.current?.focus(); // the asking box goes away: focus stays in the dialog until `then` moves it
    then?.();
  };

  useEffect(() => {
    const previous = document.activeElement as HTMLElement | null;
    const el = ref.current;
    const first = el?.querySelector<HTMLElement>('[data-autofocus]') ?? el?.querySelector('.dialog-body')?.querySelector<HTMLElement>(FOCUSABLE);
    (first ?? el)?.focus();
    return () => previous?.focus?.();
  }, []);
  useEffect(() => registerDialogGuard(guard), [guard]);
  // Escape with focus outside the dialog (one pressed inside is handled by onKeyDown, which stops it)
  const onEscape = useRef<() => void>(() => {});
  onEscape.current = () => (asking ? keepEditing() : close());
  useEffect(() => {
    const me = {};
    openDialogs.push(me);
    const onKey = (e: globalThis.KeyboardEvent) => {
      if (e.key !== 'Escape' || e.defaultPrevented || openDialogs[openDialogs.length - 1] !== me) return;
      if (ref.current && e.target instanceof Node && ref.current.contains(e.target)) return;
      onEscape.current();
    };
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('keydown', onKey);
      openDialogs.splice(openDialogs.indexOf(me), 1);
    };
  }, []);
  // a control in the dialog became disabled and focus fell out of it (to <body>): back into the dialog
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof MutationObserver === 'undefined') return;
    const observer = new MutationObserver((records) => {
      // Chromium may still report the disabled control as focused until its next focus check
      const active = document.activeElement;
      const lost = active === null || active === document.body || (active instanceof HTMLElement && el.contains(active) && active.matches(':disabled'));
      if (lost && records.some((r) => r.target instanceof HTMLElement && r.target.hasAttribute('disabled'))) el.focus();
    });
    observer.observe(el, { attributes: true, attributeFilter: ['disabled'], subtree: true });
    return () => observer.disconnect();
  }, []);
  useEffect(() => {
    if (asking) askRef.current?.querySelector<HTMLElement>('[data-keep]')?.focus();
    else if (refocus.current) {
      const to = refocus.current;
      refocus.current = null;
      (to.isConnected ? to : ref.current)?.focus();
    }
  }, [asking]);

  // while asking, the rest of the dialog takes no focus or clicks (React 18 knows no `inert` prop: "" sets it)
  const inert = (asking ? { inert: '' } : {}) as Record<string, string>;

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.key === 'Escape') {
      e.stopPropagation();
      if (asking) keepEditing();
      else close();
      return;
    }
    const box = asking ? askRef.current : ref.current;
    if (e.key !== 'Tab' || !box) return;
    const items = [...box.querySelectorAll<HTMLElement>(FOCUSABLE)];
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (e.shiftKey && (document.activeElement === first || !box.contains(document.activeElement))) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && (document.activeElement === last || !box.contains(document.activeElement))) {
      e.preventDefault();
      first.focus();
    }
  };

  return (
    <div className="overlay" onMouseDown={(e) => e.target === e.currentTarget && !asking && close()}>
      <div
        ref={ref}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        tabIndex={-1}
        className={`dialog${props.wide ? ' dialog-wide' : ''}${props.className ? ` ${props.className}` : ''}`}
        onKeyDown={onKeyDown}
      >
        <div className="dialog-head" {...inert}>
          <h2 id={titleId}>{title}</h2>
          <button type="button" className="icon-button" aria-label="Close" onClick={close}>
            <Icon name="close" />
          </button>
        </div>
        <DiscardGuardContext.Provider value={guard}>
          <div className="dialog-body" {...inert}>
            {children}
          </div>
        </DiscardGuardContext.Provider>
        {asking && (
          <div className="discard-backdrop">
            <div ref={askRef} role="alertdialog" aria-modal="true" aria-labelledby={`${askId}-t`} aria-describedby={`${askId}-d`} className="discard-ask">
              <h3 id={`${askId}-t`}>Discard changes?</h3>
              <p id={`${askId}-d`}>What you changed here is not saved yet.</p>
              <div className="form-actions">
                <button type="button" className="button" data-keep onClick={keepEditing}>
                  Keep editing
                </button>
                <button type="button" className="button danger" onClick={discard}>
                  Discard
                </button>
              </div>
            </div>
          </div>
        )}
      </div>
    </div>
  );
}
