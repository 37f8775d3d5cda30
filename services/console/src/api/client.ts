// The only way the console talks to the server: relative "/v1/..." URLs on the same origin,
// the optional API key from localStorage in X-API-Key, and every failure turned into an ApiError
// whose `message` a person on the floor can read.
import createClient from 'openapi-fetch';
import type { components, paths } from './schema';
import type { Inspection } from './types';

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

function headers(): Headers {
  const h = new Headers();
  const key = getApiKey();
  if (key) h.set('X-API-Key', key);
  return h;
}

/** The error envelope (or FastAPI's default shape, or a page that is not JSON) as an ApiError. */
function errorFrom(status: number, body: unknown): ApiError {
  let code = 'http_error';
  let detail = '';
  if (body && typeof body === 'object') {
    const b = body as { error?: { code?: unknown; message?: unknown }; detail?: unknown };
    if (b.error) {
      code = String(b.error.code ?? code);
      detail = String(b.error.message ?? '');
    } else if (b.detail) {
      // FastAPI's default shape, should a route slip through without the contract's envelope.
      detail = typeof b.detail === 'string' ? b.detail : JSON.stringify(b.detail);
    }
  }
  if (code === 'http_error') {
    if (status === 401 || status === 403) code = 'unauthorized';
    else if (status === 404) code = 'not_found';
    else if (status === 413) code = 'payload_too_large';
    else if (status === 415) code = 'unsupported_media_type';
    else if (status === 503) code = 'unavailable';
  }
  return new ApiError(status, code, detail);
}

// Typed by the generated src/api/schema.d.ts (make console-types). `fetch` is looked up per call, so
// tests can stand in for it; the API key goes into every request.
export const http = createClient<paths>({ fetch: (request) => fetch(request) });
http.use({
  onRequest({ request }) {
    const key = getApiKey();
    if (key) request.headers.set('X-API-Key', key);
    return request;
  },
});

/** The data of a successful answer; anything else as an ApiError (exported for the feature modules beside `api`). */
export async function call<T>(sent: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let answer: { data?: T; error?: unknown; response: Response };
  try {
    answer = await sent;
  } catch (e) {
    if (e instanceof SyntaxError) throw new ApiError(200, 'bad_response', '');
    throw new ApiError(0, 'network', e instanceof Error ? e.message : String(e));
  }
  const { data, error, response } = answer;
  if (!response.ok) throw errorFrom(response.status, error);
  return data as T;
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
  if (!res.ok) throw errorFrom(res.status, await res.json().catch(() => null));
  return res.blob();
}

// The schema types multipart file parts as strings; the browser sends the FormData as it is.
function files(field: string, list: File[]): never {
  const fd = new FormData();
  for (const f of list) fd.append(field, f, f.name);
  return fd as never;
}

const product = (name: string) => ({ params: { path: { name } } });

export const api = {
  listProducts: (cursor?: string) => call(http.GET('/v1/products', { params: { query: cursor ? { cursor } : {} } })),
  getProduct: (name: string) => call(http.GET('/v1/products/{name}', product(name))),
  createProduct: (name: string, description: string) => call(http.POST('/v1/products', { body: { name, description } })),
  stats: (name: string) => call(http.GET('/v1/products/{name}/stats', product(name))),
  limits: () => call(http.GET('/v1/limits')),

  listGolden: (name: string) => call(http.GET('/v1/products/{name}/golden', product(name))),
  uploadGolden: (name: string, list: File[]) =>
    call(http.POST('/v1/products/{name}/golden', { ...product(name), body: files('files', list) })),
  deleteGolden: (name: string, id: string) =>
    call(http.DELETE('/v1/products/{name}/golden/{sample_id}', { params: { path: { name, sample_id: id } } })),

  buildFingerprint: (name: string, threshold?: number) =>
    call(http.POST('/v1/products/{name}/fingerprints', { ...product(name), body: threshold === undefined ? {} : { threshold } })),
  listVersions: (name: string) => call(http.GET('/v1/products/{name}/fingerprints', product(name))),
  activateVersion: (name: string, version: number) =>
    call(http.POST('/v1/products/{name}/fingerprints/{version}/activate', { params: { path: { name, version } } })),
  getJob: (id: string) => call(http.GET('/v1/jobs/{job_id}', { params: { path: { job_id: id } } })),

  inspect: (name: string, file: File) =>
    call(http.POST('/v1/products/{name}/inspect', { ...product(name), body: files('file', [file]) })),
  startBatch: (name: string, list: File[]) =>
    call(http.POST('/v1/products/{name}/batches', { ...product(name), body: files('files', list) })),
  listInspections: (name: string, query: InspectionQuery = {}) =>
    call(http.GET('/v1/products/{name}/inspections', { params: { path: { name }, query } })),
  getInspection: (name: string, id: string) =>
    call(http.GET('/v1/products/{name}/inspections/{inspection_id}', { params: { path: { name, inspection_id: id } } })),
  feedback: (name: string, id: string, addToGolden: boolean) =>
    call(
      http.POST('/v1/products/{name}/inspections/{inspection_id}/feedback', {
        params: { path: { name, inspection_id: id } },
        body: { label: 'false_alarm', add_to_golden: addToGolden },
      }),
    ),
  setLabel: (name: string, id: string, label: LabelKind, note: string) =>
    call(http.PUT('/v1/products/{name}/inspections/{inspection_id}/label', { params: { path: { name, inspection_id: id } }, body: { label, note } })),
  clearLabel: (name: string, id: string) =>
    call(http.DELETE('/v1/products/{name}/inspections/{inspection_id}/label', { params: { path: { name, inspection_id: id } } })),
  tuning: (name: string, version: number) =>
    call(http.GET('/v1/products/{name}/tuning', { params: { path: { name }, query: { version } } })),
  tuneVersion: (name: string, version: number, threshold: number, confirm: boolean, reason: string) =>
    call(http.POST('/v1/products/{name}/fingerprints/{version}/tune', { params: { path: { name, version } }, body: { threshold, confirm, reason } })),
  replayVersion: (name: string, version: number, last: number) =>
    call(http.POST('/v1/products/{name}/fingerprints/{version}/replay', { params: { path: { name, version } }, body: { last } })),
  activations: (name: string) => call(http.GET('/v1/products/{name}/activations', product(name))),
  explain: (name: string, id: string, k: number) =>
    call(http.GET('/v1/products/{name}/inspections/{inspection_id}/explain', { params: { path: { name, inspection_id: id }, query: { k } } })),
  lines: (since: string) => call(http.GET('/v1/lines', { params: { query: { since, limit: 500 } } })),
  setSourceRunning: (name: string, id: string, running: boolean) =>
    call(http.POST(running ? '/v1/products/{name}/sources/{source_id}/start' : '/v1/products/{name}/sources/{source_id}/stop', { params: { path: { name, source_id: id } } })),
  triggerSource: (name: string, id: string) =>
    call(http.POST('/v1/products/{name}/sources/{source_id}/trigger', { params: { path: { name, source_id: id } } })),
  addSource: (name: string, source: NewSource) => call(http.POST('/v1/products/{name}/sources', { ...product(name), body: source })),
  deleteSource: (name: string, id: string) =>
    call(http.DELETE('/v1/products/{name}/sources/{source_id}', { params: { path: { name, source_id: id } } })),
  getMqtt: (name: string) => call(http.GET('/v1/products/{name}/mqtt', product(name))),
  setMqtt: (name: string, sink: NewMqttSink) => call(http.PUT('/v1/products/{name}/mqtt', { ...product(name), body: sink })),
  deleteMqtt: (name: string) => call(http.DELETE('/v1/products/{name}/mqtt', product(name))),
  similar: (name: string, id: string, limit: number) =>
    call(http.GET('/v1/products/{name}/inspections/{inspection_id}/similar', { params: { path: { name, inspection_id: id }, query: { limit } } })),
};

type InspectionQuery = NonNullable<paths['/v1/products/{name}/inspections']['get']['parameters']['query']>;
export type LabelKind = NonNullable<InspectionQuery['label']>;
export type NewSource = components['schemas']['SourceIn'];
export type NewMqttSink = components['schemas']['MqttSinkIn'];
export type ExportQuery = NonNullable<paths['/v1/products/{name}/inspections/export']['get']['parameters']['query']>;

/** The export's URL (fetched with the API key by download()). */
export function exportUrl(name: string, query: ExportQuery): string {
  const q = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => Boolean(e[1])));
  return `/v1/products/${encodeURIComponent(name)}/inspections/export?${q}`;
}

/** The items of every page from `page(cursor)`, following `next_cursor`, up to `max` items. */
async function allPages<T, C>(
  page: (cursor: C | undefined, want: number) => Promise<{ items: T[]; next_cursor?: C | null }>,
  max = Infinity,
): Promise<T[]> {
  const out: T[] = [];
  let cursor: C | undefined;
  for (;;) {
    const p = await page(cursor, max - out.length);
    out.push(...p.items);
    if (p.next_cursor === null || p.next_cursor === undefined || p.items.length === 0 || out.length >= max) break;
    cursor = p.next_cursor;
  }
  return out.slice(0, max);
}

/** Every product (the server pages them by name). */
export const listAllProducts = () => allPages((cursor: string | undefined) => api.listProducts(cursor));

/** Every page of a listing, up to `max` items (the server pages newest first). */
export const listAllInspections = (name: string, q: Pick<InspectionQuery, 'decision' | 'batch'>, max: number): Promise<Inspection[]> =>
  allPages((cursor: number | undefined, want) => api.listInspections(name, { ...q, limit: Math.min(100, want), cursor }), max);

export const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
