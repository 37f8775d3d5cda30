// The only way the console talks to the server: relative "/v1/..." URLs on the same origin,
// the optional API key from localStorage in X-API-Key, and every failure turned into an ApiError
// whose `message` a person on the floor can read.
import type {
  Golden,
  GoldenUpload,
  Inspection,
  Job,
  Page,
  Product,
  Stats,
  Version,
} from './types';

const KEY_STORAGE = 'goldenshot.apiKey';

export function getApiKey(): string {
  try {
    return localStorage.getItem(KEY_STORAGE) ?? '';
  } catch {
    return '';
  }
}

export function setApiKey(key: string): void {
  const k = key.trim();
  if (k) localStorage.setItem(KEY_STORAGE, k);
  else localStorage.removeItem(KEY_STORAGE);
}

export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  /** The server's own message (may be technical); `message` is the plain-words one. */
  readonly detail: string;

  constructor(status: number, code: string, detail: string) {
    super(plainMessage(status, code, detail));
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

/** One sentence for a person: what went wrong and, where there is one, what to do about it. */
export function plainMessage(status: number, code: string, detail: string): string {
  const d = detail.trim().replace(/\.$/, '');
  switch (code) {
    case 'network':
      return 'Cannot reach the goldenshot server. Check that it is running and that this computer is on its network, then try again.';
    case 'unauthorized':
      return 'The server refused the API key. Enter a valid key under Settings (top right).';
    case 'no_fingerprint':
      return 'This product has no fingerprint yet. Upload golden samples and generate one on the Product setup page.';
    case 'payload_too_large':
      return `The upload is too large for the server${d ? ` (${d})` : ''}. Send fewer or smaller images.`;
    case 'unsupported_media_type':
      return `That file type is not accepted${d ? `: ${d}` : ''}. Use JPEG, PNG, BMP or TIFF images.`;
    case 'invalid_image':
      return `An image could not be read${d ? `: ${d}` : ''}. Nothing was stored; remove that file and try again.`;
    case 'not_ready':
    case 'unavailable':
      return `The server is not ready${d ? ` (${d})` : ''}. Wait a moment and try again.`;
    case 'internal':
      return `The server hit an internal error${d ? ` (${d})` : ''}. Try again; if it keeps happening, tell the administrator.`;
    case 'bad_response':
      return `The server sent an answer the console cannot read (HTTP ${status}).`;
    default:
      if (d) return `${d}.`;
      return `The server answered with an error (HTTP ${status}).`;
  }
}

function headers(extra?: Record<string, string>): Headers {
  const h = new Headers(extra);
  const key = getApiKey();
  if (key) h.set('X-API-Key', key);
  return h;
}

async function errorFrom(res: Response): Promise<ApiError> {
  let code = 'http_error';
  let detail = '';
  try {
    const body = await res.json();
    if (body && typeof body === 'object' && body.error) {
      code = String(body.error.code ?? code);
      detail = String(body.error.message ?? '');
    } else if (body && typeof body === 'object' && body.detail) {
      // FastAPI's default shape, should a route slip through without the contract's envelope.
      detail = typeof body.detail === 'string' ? body.detail : JSON.stringify(body.detail);
    }
  } catch {
    /* not JSON: keep the status */
  }
  if (code === 'http_error') {
    if (res.status === 401 || res.status === 403) code = 'unauthorized';
    else if (res.status === 404) code = 'not_found';
    else if (res.status === 413) code = 'payload_too_large';
    else if (res.status === 415) code = 'unsupported_media_type';
    else if (res.status === 503) code = 'unavailable';
  }
  return new ApiError(res.status, code, detail);
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  let init: RequestInit = { method, headers: headers() };
  if (body instanceof FormData) {
    init = { method, headers: headers(), body };
  } else if (body !== undefined) {
    init = { method, headers: headers({ 'Content-Type': 'application/json' }), body: JSON.stringify(body) };
  }
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'network', e instanceof Error ? e.message : String(e));
  }
  if (!res.ok) throw await errorFrom(res);
  if (res.status === 204) return undefined as T;
  try {
    return (await res.json()) as T;
  } catch {
    throw new ApiError(res.status, 'bad_response', '');
  }
}

/** Fetch a binary resource (images behind an API key cannot be loaded by <img src> alone). */
export async function fetchBlob(path: string, signal?: AbortSignal): Promise<Blob> {
  let res: Response;
  try {
    res = await fetch(path, { headers: headers(), signal });
  } catch (e) {
    if (signal?.aborted) throw e;
    throw new ApiError(0, 'network', e instanceof Error ? e.message : String(e));
  }
  if (!res.ok) throw await errorFrom(res);
  return res.blob();
}

const p = (name: string) => `/v1/products/${encodeURIComponent(name)}`;

function files(field: string, list: File[]): FormData {
  const fd = new FormData();
  for (const f of list) fd.append(field, f, f.name);
  return fd;
}

export const api = {
  listProducts: () => request<Page<Product>>('GET', '/v1/products'),
  getProduct: (name: string) => request<Product>('GET', p(name)),
  createProduct: (name: string, description: string) =>
    request<Product>('POST', '/v1/products', { name, description }),
  deleteProduct: (name: string) => request<void>('DELETE', p(name)),
  stats: (name: string) => request<Stats>('GET', `${p(name)}/stats`),

  listGolden: (name: string) => request<Page<Golden>>('GET', `${p(name)}/golden`),
  uploadGolden: (name: string, list: File[]) =>
    request<GoldenUpload>('POST', `${p(name)}/golden`, files('files', list)),
  deleteGolden: (name: string, id: string) =>
    request<void>('DELETE', `${p(name)}/golden/${encodeURIComponent(id)}`),

  buildFingerprint: (name: string, threshold?: number) =>
    request<Job>('POST', `${p(name)}/fingerprints`, threshold === undefined ? {} : { threshold }),
  listVersions: (name: string) => request<Page<Version>>('GET', `${p(name)}/fingerprints`),
  activateVersion: (name: string, version: number) =>
    request<Version>('POST', `${p(name)}/fingerprints/${version}/activate`),
  getJob: (id: string) => request<Job>('GET', `/v1/jobs/${encodeURIComponent(id)}`),

  inspect: (name: string, file: File) => {
    const fd = new FormData();
    fd.append('file', file, file.name);
    return request<Inspection>('POST', `${p(name)}/inspect`, fd);
  },
  startBatch: (name: string, list: File[]) =>
    request<Job>('POST', `${p(name)}/batches`, files('files', list)),
  listInspections: (
    name: string,
    q: { decision?: string; batch?: string; limit?: number; cursor?: string | number } = {},
  ) => {
    const qs = new URLSearchParams();
    if (q.decision) qs.set('decision', q.decision);
    if (q.batch) qs.set('batch', q.batch);
    if (q.limit) qs.set('limit', String(q.limit));
    if (q.cursor !== undefined && q.cursor !== null) qs.set('cursor', String(q.cursor));
    const s = qs.toString();
    return request<Page<Inspection>>('GET', `${p(name)}/inspections${s ? `?${s}` : ''}`);
  },
  getInspection: (name: string, id: string) =>
    request<Inspection>('GET', `${p(name)}/inspections/${encodeURIComponent(id)}`),
  feedback: (name: string, id: string, addToGolden: boolean) =>
    request<Inspection>('POST', `${p(name)}/inspections/${encodeURIComponent(id)}/feedback`, {
      label: 'false_alarm',
      add_to_golden: addToGolden,
    }),
};

/** Every page of a listing, up to `max` items (the server pages newest first). */
export async function listAllInspections(
  name: string,
  q: { decision?: string; batch?: string },
  max: number,
): Promise<Inspection[]> {
  const out: Inspection[] = [];
  let cursor: string | number | undefined;
  for (;;) {
    const page = await api.listInspections(name, { ...q, limit: Math.min(100, max - out.length), cursor });
    out.push(...page.items);
    cursor = page.next_cursor ?? undefined;
    if (cursor === undefined || page.items.length === 0 || out.length >= max) break;
  }
  return out.slice(0, max);
}

export const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll a job until it finishes, reporting each state; resolves with the finished job. */
export async function waitForJob(
  id: string,
  onUpdate: (job: Job) => void,
  opts: { intervalMs?: number; isCancelled?: () => boolean } = {},
): Promise<Job> {
  const interval = opts.intervalMs ?? 500;
  for (;;) {
    const job = await api.getJob(id);
    if (opts.isCancelled?.()) return job;
    onUpdate(job);
    if (job.state === 'succeeded' || job.state === 'failed') return job;
    await sleep(interval);
  }
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
