// A fetch stand-in for component tests: routes by method + path, records every call.
import { vi } from 'vitest';
import type { Golden, Inspection, Job, Product, Version } from '../api/types';

export interface Call {
  method: string;
  path: string;
  headers: Headers;
  body: unknown;
}

type Reply = { status?: number; body?: unknown } | unknown;
type Handler = (call: Call, match: RegExpMatchArray) => Reply | Promise<Reply>;

export function fakeApi(routes: [string, RegExp, Handler][]) {
  const calls: Call[] = [];
  // The API client sends a Request (test/setup.ts's stand-in); fetchBlob sends a path and init.
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const sent = typeof input === 'object' && 'method' in input ? input : { url: String(input), ...init };
    const url = new URL(sent.url, 'http://127.0.0.1');
    const path = url.pathname + url.search;
    const method = (sent.method ?? 'GET').toUpperCase();
    let body: unknown = sent.body;
    if (typeof body === 'string') body = JSON.parse(body);
    const call: Call = { method, path, headers: new Headers(sent.headers), body };
    calls.push(call);
    for (const [m, re, handler] of routes) {
      const match = path.match(re);
      if (m === method && match) {
        const r = (await handler(call, match)) as { status?: number; body?: unknown };
        const wrapped = r && typeof r === 'object' && ('status' in r || 'body' in r) ? r : { body: r };
        const status = wrapped.status ?? 200;
        if (status === 204) return new Response(null, { status });
        return new Response(JSON.stringify(wrapped.body ?? null), {
          status,
          headers: { 'Content-Type': 'application/json' },
        });
      }
    }
    return new Response(JSON.stringify({ error: { code: 'not_found', message: `no route ${method} ${path}` } }), {
      status: 404,
    });
  });
  vi.stubGlobal('fetch', fetchMock);
  return { calls, fetchMock };
}

export const T = '2026-11-27T10:00:00Z';

export function version(v: number, extra: Partial<Version> = {}): Version {
  return {
    version: v,
    active: true,
    created_at: T,
    threshold: 2.5,
    pixel_threshold: 2.0,
    threshold_source: 'golden',
    golden_count: 8,
    coreset_rows: 3277,
    golden_scores: { mean: 1.5, std: 0.2, max: 2.1 },
    build_seconds: 0.9,
    sha256: 'ab',
    strays: [],
    ...extra,
  };
}

export function product(name: string, extra: Partial<Product> = {}): Product {
  return {
    name,
    description: 'a tile',
    created_at: T,
    golden_count: 0,
    inspection_count: 0,
    active_version: null,
    fingerprint: null,
    building: null,
    ...extra,
  };
}

export function golden(id: string, filename = `${id}.jpg`): Golden {
  return { id, filename, sha256: id, width: 200, height: 100, created_at: T, image_url: `/v1/products/tile/golden/${id}/image` };
}

export function inspection(id: string, score: number, extra: Partial<Inspection> = {}): Inspection {
  const decision = score > 2.5 ? 'ANOMALOUS' : 'OK';
  return {
    id,
    product: 'tile',
    version: 1,
    decision,
    score,
    threshold: 2.5,
    regions:
      decision === 'ANOMALOUS'
        ? [{ bbox: [10, 10, 20, 20], area: 400, peak_score: 4, mean_score: 3, polygon: [[10, 10], [30, 10], [30, 30], [10, 30]] }]
        : [],
    filename: `${id}.jpg`,
    width: 200,
    height: 100,
    created_at: T,
    batch_id: null,
    feedback: null,
    image_url: `/v1/products/tile/inspections/${id}/image`,
    heatmap_url: `/v1/products/tile/inspections/${id}/heatmap.png`,
    overlay_url: `/v1/products/tile/inspections/${id}/overlay.png`,
    timings_ms: {},
    ...extra,
  };
}

/** A job; `progress` fills in what it leaves out (stage "queued", nothing done). */
export function job(
  id: string,
  state: Job['state'],
  { progress, ...extra }: Partial<Omit<Job, 'progress'>> & { progress?: Partial<Job['progress']> } = {},
): Job {
  return {
    id,
    kind: 'build',
    product: 'tile',
    state,
    progress: { stage: 'queued', done: 0, total: 0, fraction: 0, ...progress },
    error: null,
    result: null,
    created_at: T,
    started_at: null,
    finished_at: null,
    attempts: 1,
    ...extra,
  };
}

export function imageFile(name: string, bytes = 10): File {
  return new File([new Uint8Array(bytes)], name, { type: 'image/jpeg' });
}
