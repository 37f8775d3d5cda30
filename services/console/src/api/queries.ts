// Server state: every read of the API goes through TanStack Query with these keys, so caching,
// background refetch, job polling, retries and errors are decided here, once.
import { keepPreviousData, QueryClient, useQuery } from '@tanstack/react-query';
import { ApiError, api, listAllInspections, listAllProducts } from './client';
import type { Job } from './types';

/** How many recent inspections the score distribution is drawn from. */
export const RECENT = 500;
const JOB_POLL_MS = 500;
const ANALYTICS_REFRESH_MS = 30_000;

// Everything about one product sits under ['product', name]: invalidating that prefix refreshes it all.
export const keys = {
  products: ['products'] as const,
  product: (name: string) => ['product', name] as const,
  golden: (name: string) => ['product', name, 'golden'] as const,
  versions: (name: string) => ['product', name, 'versions'] as const,
  inspections: (name: string, query: { decision?: 'OK' | 'ANOMALOUS'; limit?: number; cursor?: number | null }) =>
    ['product', name, 'inspections', query] as const,
  batch: (name: string, jobId: string) => ['product', name, 'batch', jobId] as const,
  inspection: (name: string, id: string) => ['product', name, 'inspection', id] as const,
  explain: (name: string, id: string) => ['product', name, 'inspection', id, 'explain'] as const,
  similar: (name: string, id: string) => ['product', name, 'inspection', id, 'similar'] as const,
  stats: (name: string) => ['product', name, 'stats'] as const,
  tuning: (name: string, version: number) => ['product', name, 'tuning', version] as const,
  activations: (name: string) => ['product', name, 'activations'] as const,
  recent: (name: string) => ['product', name, 'recent'] as const,
  job: (id: string) => ['job', id] as const,
  limits: ['limits'] as const,
  lines: ['lines'] as const,
  mqtt: (name: string) => ['product', name, 'mqtt'] as const,
};

/** Retry what may pass on its own (the server unreachable, restarting, overloaded), twice; never a refusal. */
export function shouldRetry(failures: number, error: unknown): boolean {
  const transient = error instanceof ApiError && (error.status === 0 || error.status === 502 || error.status === 503 || error.status === 504);
  return transient && failures < 2;
}

export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: { staleTime: 5_000, retry: shouldRetry },
      mutations: { retry: false },
    },
  });
}

export const isFinished = (job: Job) => job.state === 'succeeded' || job.state === 'failed';

/** Every product, all pages (the pickers list them all). */
export const useProducts = () => useQuery({ queryKey: keys.products, queryFn: listAllProducts });
export const useProduct = (name: string) => useQuery({ queryKey: keys.product(name), queryFn: () => api.getProduct(name) });
export const useGolden = (name: string) =>
  useQuery({ queryKey: keys.golden(name), queryFn: () => api.listGolden(name), select: (page) => page.items });
export const useVersions = (name: string) =>
  useQuery({ queryKey: keys.versions(name), queryFn: () => api.listVersions(name), select: (page) => page.items });

/** The limits the server enforces (they change only with its settings, so once per visit). */
export const useLimits = () => useQuery({ queryKey: keys.limits, queryFn: api.limits, staleTime: Infinity });

/** A job, polled until it has finished; idle without an id. */
export const useJob = (id: string | null) =>
  useQuery({
    queryKey: keys.job(id ?? ''),
    queryFn: () => api.getJob(id!),
    enabled: id !== null,
    staleTime: 0,
    refetchInterval: (query) => (query.state.data && isFinished(query.state.data) ? false : JOB_POLL_MS),
  });

export const useInspections = (name: string, query: { decision?: 'OK' | 'ANOMALOUS'; limit?: number }) =>
  useQuery({
    queryKey: keys.inspections(name, query),
    queryFn: () => api.listInspections(name, query),
    select: (page) => page.items,
    refetchInterval: query.decision ? ANALYTICS_REFRESH_MS : false,
  });

/** One page of a product's inspections, newest first, from `cursor` (the next_cursor of the page before;
 * null: the newest); the page shown stays until the next one arrives. */
export const useInspectionPage = (name: string, limit: number, cursor: number | null) =>
  useQuery({
    queryKey: keys.inspections(name, { limit, cursor }),
    queryFn: () => api.listInspections(name, cursor === null ? { limit } : { limit, cursor }),
    placeholderData: keepPreviousData,
  });

export const useInspection = (name: string, id: string | null) =>
  useQuery({ queryKey: keys.inspection(name, id ?? ''), queryFn: () => api.getInspection(name, id!), enabled: id !== null });

/** Golden patches nearest to each region's peak, fetched once a result is shown (never before its decision). */
const EXPLAIN_K = 5;
export const useExplanation = (name: string, id: string) =>
  useQuery({ queryKey: keys.explain(name, id), queryFn: () => api.explain(name, id, EXPLAIN_K), staleTime: Infinity });

/** Past inspections with the most similar defects. */
export const SIMILAR_LIMIT = 10;
export const useSimilar = (name: string, id: string) =>
  useQuery({ queryKey: keys.similar(name, id), queryFn: () => api.similar(name, id, SIMILAR_LIMIT) });

/** All inspections of a finished batch (a few more than it had images, should a page be short). */
export const useBatchResults = (name: string, job: Job | undefined, count: number) =>
  useQuery({
    queryKey: keys.batch(name, job?.id ?? ''),
    queryFn: () => listAllInspections(name, { batch: job!.id }, count + 10),
    enabled: job?.state === 'succeeded',
  });

export const useStats = (name: string) =>
  useQuery({ queryKey: keys.stats(name), queryFn: () => api.stats(name), refetchInterval: ANALYTICS_REFRESH_MS });
export const useRecent = (name: string) =>
  useQuery({
    queryKey: keys.recent(name),
    queryFn: () => listAllInspections(name, {}, RECENT),
    refetchInterval: ANALYTICS_REFRESH_MS,
  });

const LINES_REFRESH_MS = 5_000;

/** The local midnight, as the API takes times (ISO 8601 with its offset): "today" is the plant's day. */
export function localMidnight(now: Date = new Date()): string {
  const midnight = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  return midnight.toISOString();
}

/** Every product's line (sources, newest result, today's counts), refreshed every few seconds. */
export const useLines = () =>
  useQuery({ queryKey: keys.lines, queryFn: () => api.lines(localMidnight()), select: (page) => page.items, refetchInterval: LINES_REFRESH_MS });
/** A product's MQTT sink, null while it has none (404), refreshed like the lines since its backlog moves. */
export const useMqttSink = (name: string) =>
  useQuery({
    queryKey: keys.mqtt(name),
    queryFn: () => api.getMqtt(name).catch((e: unknown) => {
      if (e instanceof ApiError && e.status === 404) return null;
      throw e;
    }),
    refetchInterval: LINES_REFRESH_MS,
  });
/** The scored, labelled history a threshold for `version` is judged on (threshold tuning). */
export const useTuning = (name: string, version: number) =>
  useQuery({ queryKey: keys.tuning(name, version), queryFn: () => api.tuning(name, version) });
export const useActivations = (name: string) =>
  useQuery({ queryKey: keys.activations(name), queryFn: () => api.activations(name), select: (page) => page.items });
