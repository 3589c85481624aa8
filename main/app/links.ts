/**
 * Links the page asks to open (a link with target=_blank, or window.open, which any script in the
 * page can call without a click): nothing leaves the app without the user's act. An https link opens
 * in the system browser only once the user picks Open in a dialog showing its host and whole
 * address; any other link is only shown, with Copy link. There is no allow-list: the app links to no
 * site of its own (every link in the page comes from a reply's Markdown).
 *
 * A page calling window.open in a loop gets one dialog at a time and at most LINK_LIMITS.dialogs in
 * any LINK_LIMITS.windowMs; requests past that are dropped. The Electron parts (dialog, shell,
 * clipboard) come in as `LinkShell`, so this file imports nothing from Electron.
 */
import { linkAction } from './security';

export const LINK_LIMITS = {
  /** dialogs shown per window of time */
  dialogs: 6,
  windowMs: 60_000,
  /** a longer address is not opened: the dialog could not show it whole */
  maxUrlChars: 2000,
} as const;

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

  constructor(
    private readonly shell: LinkShell,
    private readonly now: () => number = Date.now,
  ) {}

  /** Handles one request from the page; never throws. Resolves when the dialog is answered (or at once when dropped). */
  async request(url: string): Promise<'dropped' | 'opened' | 'copied' | 'cancelled'> {
    const t = this.now();
    this.shown = this.shown.filter((s) => t - s < LINK_LIMITS.windowMs);
    if (this.showing || this.shown.length >= LINK_LIMITS.dialogs || typeof url !== 'string') return 'dropped';
    this.showing = true;
    this.shown.push(t);
    try {
      const { dialog, openable } = linkDialog(url);
      const { response } = await this.shell.showMessageBox(dialog);
      if (openable !== null && response === OPEN) {
        await this.shell.openExternal(openable).catch(() => undefined); // no browser to open it with
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
