/**
 * The page's own side effects that Settings → Data needs, in one object the tests can watch: a file
 * handed to the browser as a download (an <a download> clicked, outside any component) and a reload
 * once main is back after a restart.
 */
import type { ExportFileDTO } from '../../../../main/ipc/contract';

/** An export's file as bytes: its text (utf8), or its base64 decoded (a zip). */
export function blobOf(f: ExportFileDTO): Blob {
  if (f.encoding === 'utf8') return new Blob([f.data], { type: f.mime });
  const bin = atob(f.data);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Blob([bytes], { type: f.mime });
}

export const page = {
  /** Saves `blob` as `fileName` the way the browser saves a download. */
  download(fileName: string, blob: Blob): void {
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = fileName;
    a.hidden = true;
    document.body.appendChild(a);
    a.click();
    a.remove();
    // the download has its bytes once it started; the URL is let go a while after
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  },
  reload(): void {
    window.location.reload();
  },
};
