/**
 * Links the page asks to open (a link with target=_blank, or window.open, which any script in the
 * page can call without a click): nothing leaves the app without the user's act. An https link opens
 * in the system browser only once the user picks Open in a dialog showing its host and whole
 * address; any other link is only shown, with Copy link. There is no allow-list: the app links to no
 * site of its own (every link in the page comes from a reply's Markdown).
 *
 * A page calling window.open in a loop gets one dialog at a time and at most LINK_LIMITS.dialogs in
 * any LINK_LIMITS.windowMs; requests past that are dropped, and the first one dropped says so (a
 * `LinkNotice`, at most one per dialog shown, so a loop cannot flood the user with notices either).
 * A link the system refuses to open (shell.openExternal fails) is reported the same way. Notices go
 * to the log and to the app's pages (the `app.notice` event, shown as a message: `reportLinkNotices`).
 * The Electron parts (dialog, shell, clipboard) come in as `LinkShell`, so this file imports nothing
 * from Electron.
 */
import type { EventOf } from '../ipc/contract';
import type { Logger } from '../logging';
import { linkAction } from './security';

export const LINK_LIMITS = {
  /** dialogs shown per window of time */
  dialogs: 6,
  windowMs: 60_000,
  /** a longer address is not opened: the dialog could not show it whole */
  maxUrlChars: 2000,
  /** what a notice and its log line keep of the system's reason and of the link's host (the rest is cut) */
  noticePartChars: 300,
} as const;

/** `s` cut to LINK_LIMITS.noticePartChars, marked with … when cut (a system's error can be any length). */
function clip(s: string): string {
  return s.length > LINK_LIMITS.noticePartChars ? `${s.slice(0, LINK_LIMITS.noticePartChars - 1)}…` : s;
}

/** What Electron's dialog.showMessageBox takes (the part used here). */
export interface LinkDialog {
  type: 'question' | 'info';
  message: string;
  detail: string;
  buttons: string[];
  defaultId: number;
  cancelId: number;
  noLink: true;
}

export interface LinkShell {
  /** dialog.showMessageBox on the window the request came from */
  showMessageBox(options: LinkDialog): Promise<{ response: number }>;
  /** shell.openExternal */
  openExternal(url: string): Promise<void>;
  /** clipboard.writeText */
  writeClipboard(text: string): void;
}

/** Something the user did not see happen: link requests dropped past the limit, or a link the system would not open. */
export type LinkNotice = { kind: 'limited' } | { kind: 'openFailed'; url: string; reason: string };

/** What a request came to (`dropped`: past the limits; `failed`: Open was picked but the system could not open it). */
export type LinkOutcome = 'dropped' | 'opened' | 'failed' | 'copied' | 'cancelled';

/** A notice in words, for the page's message. */
export function linkNoticeText(n: LinkNotice): string {
  if (n.kind === 'limited') {
    return `The page asked to open more than ${LINK_LIMITS.dialogs} links within ${LINK_LIMITS.windowMs / 1000} s, so Hearth ignored the rest. Wait a minute, then click the link again.`;
  }
  let where = 'the link';
  try {
    where = `the link to ${clip(new URL(n.url).host)}`;
  } catch {
    /* openable links are valid URLs */
  }
  return `Hearth could not open ${where} in your browser (${clip(n.reason)}). Use Copy link and open it yourself.`;
}

/** Where main.ts sends notices: the log (warn) and every app page, as an `app.notice` message. Never throws. */
export function reportLinkNotices(deps: { logger: Logger; emit: (payload: EventOf<'app.notice'>) => void }): (n: LinkNotice) => void {
  return (n) => {
    try {
      deps.logger.warn(n.kind === 'limited' ? 'links: requests from the page dropped past the limit' : `links: the system could not open a link: ${clip(n.reason)}`);
      deps.emit({ kind: n.kind === 'limited' ? 'info' : 'error', text: linkNoticeText(n) });
    } catch (e) {
      deps.logger.error(`links: a notice could not be sent: ${(e as Error).message}`);
    }
  };
}

const OPEN = 0;
const COPY = 1;

/** The dialog for a link: Open / Copy link / Cancel for an https link, Copy link / Close otherwise. */
export function linkDialog(url: string): { dialog: LinkDialog; openable: string | null } {
  const shown = url.length > LINK_LIMITS.maxUrlChars ? `${url.slice(0, LINK_LIMITS.maxUrlChars)}… (${url.length - LINK_LIMITS.maxUrlChars} more characters)` : url;
  if (linkAction(url) === 'open' && url.length <= LINK_LIMITS.maxUrlChars) {
    // WHATWG's form: the host as the browser will reach it (punycode for look-alike letters)
    const u = new URL(url);
    return {
      openable: u.href,
      dialog: {
        type: 'question',
        message: `Open this link in your browser?`,
        detail: `${u.host}\n\n${u.href}`,
        buttons: ['Open', 'Copy link', 'Cancel'],
        defaultId: 2,
        cancelId: 2,
        noLink: true,
      },
    };
  }
  return {
    openable: null,
    dialog: {
      type: 'info',
      message: linkAction(url) === 'open' ? 'This link is too long to show whole, so Hearth does not open it.' : 'Hearth opens only https:// links in your browser.',
      detail: `This link was not opened:\n${shown}`,
      buttons: ['Copy link', 'Close'],
      defaultId: 1,
      cancelId: 1,
      noLink: true,
    },
  };
}

/** Asks before opening each link; one dialog at a time, a bounded number per window of time. */
export class LinkOpener {
  private showing = false;
  private shown: number[] = [];
  /** the limit's notice went out since the last dialog: the next drops stay quiet */
  private limitNoticed = false;
  private readonly report: (n: LinkNotice) => void;
  private readonly now: () => number;

  /** `report` hears what the user would otherwise not know (see LinkNotice); `now` is the clock (tests move it). */
  constructor(
    private readonly shell: LinkShell,
    opts: { report?: (n: LinkNotice) => void; now?: () => number } = {},
  ) {
    this.report = opts.report ?? (() => undefined);
    this.now = opts.now ?? Date.now;
  }

  private notify(n: LinkNotice): void {
    try {
      this.report(n);
    } catch {
      /* a notice is best effort: the request's outcome stands */
    }
  }

  /** Handles one request from the page; never throws. Resolves when the dialog is answered (or at once when dropped). */
  async request(url: string): Promise<LinkOutcome> {
    const t = this.now();
    this.shown = this.shown.filter((s) => t - s < LINK_LIMITS.windowMs);
    // a second request while a dialog is open is the user's to see there; past the limit, say so once
    if (this.showing || typeof url !== 'string') return 'dropped';
    if (this.shown.length >= LINK_LIMITS.dialogs) {
      if (!this.limitNoticed) {
        this.limitNoticed = true;
        this.notify({ kind: 'limited' });
      }
      return 'dropped';
    }
    this.showing = true;
    this.limitNoticed = false;
    this.shown.push(t);
    try {
      const { dialog, openable } = linkDialog(url);
      const { response } = await this.shell.showMessageBox(dialog);
      if (openable !== null && response === OPEN) {
        try {
          await this.shell.openExternal(openable);
        } catch (e) {
          // no browser to open it with, or the system refused: the user picked Open and must hear why nothing opened
          this.notify({ kind: 'openFailed', url: openable, reason: (e as Error | null)?.message || String(e) });
          return 'failed';
        }
        return 'opened';
      }
      if (response === (openable !== null ? COPY : 0)) {
        this.shell.writeClipboard(url);
        return 'copied';
      }
      return 'cancelled';
    } catch {
      return 'cancelled'; // the window closed under the dialog
    } finally {
      this.showing = false;
    }
  }
}

/** webContents.setWindowOpenHandler's handler: every new window is denied; its link goes to the opener. */
export function windowOpenHandler(opener: LinkOpener): (details: { url: string }) => { action: 'deny' } {
  return ({ url }) => {
    void opener.request(url);
    return { action: 'deny' };
  };
}
