import { fetchBlob } from './api/client';

/** Save `url` (an API resource, fetched with the API key when one is set) as `filename`. */
export async function download(url: string, filename: string): Promise<void> {
  const href = URL.createObjectURL(await fetchBlob(url));
  const a = document.createElement('a');
  a.href = href;
  a.download = filename;
  a.click();
  // after the browser has taken the bytes (revoking at once can cancel the download)
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
}
