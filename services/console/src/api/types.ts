// The v1 REST contract (docs/api.md), as the console uses it.

export type Decision = 'OK' | 'ANOMALOUS';
export type JobState = 'queued' | 'running' | 'succeeded' | 'failed';

export interface ApiErrorBody {
  code: string;
  message: string;
}

export interface Version {
  version: number;
  active: boolean;
  created_at: string;
  threshold: number;
  pixel_threshold?: number | null;
  threshold_source?: string | null;
  golden_count: number;
  coreset_rows?: number | null;
  golden_scores?: { mean: number; std: number; max: number } | null;
  target_fpr?: number | null;
  selfconfig?: { chosen: string; auroc: Record<string, number>; defects: number; detected?: number | null } | null;
  strays?: { name: string; score: number }[] | null;
  build_seconds?: number | null;
  sha256?: string | null;
}

export interface JobProgress {
  stage?: string | null;
  done?: number | null;
  total?: number | null;
  fraction?: number | null;
}

export interface Job {
  id: string;
  kind: 'build' | 'batch' | 'zeroshot';
  product: string;
  state: JobState;
  progress?: JobProgress | null;
  error?: ApiErrorBody | null;
  result?: Record<string, unknown> | null;
  created_at: string;
  started_at?: string | null;
  finished_at?: string | null;
}

export interface Product {
  name: string;
  description: string;
  created_at: string;
  golden_count: number;
  inspection_count: number;
  active_version: number | null;
  fingerprint: Version | null;
  building: Job | null;
}

export interface Golden {
  id: string;
  filename: string;
  sha256: string;
  width: number;
  height: number;
  created_at: string;
  image_url: string;
}

export interface NearestGolden {
  golden_id?: string | null;
  sample: number;
  name: string;
  sha256: string;
  view: number;
  row: number;
  col: number;
  grid_h: number;
  grid_w: number;
  distance: number;
  patch_row: number;
  patch_col: number;
  bank_row: number;
}

export interface Region {
  bbox: [number, number, number, number];
  area: number;
  peak_score: number;
  mean_score: number;
  polygon: [number, number][];
  nearest_golden?: NearestGolden | null;
}

export interface Inspection {
  id: string;
  product: string;
  version: number;
  decision: Decision;
  score: number;
  threshold: number;
  regions: Region[];
  filename: string;
  width: number;
  height: number;
  created_at: string;
  batch_id: string | null;
  feedback: 'false_alarm' | null;
  image_url: string;
  heatmap_url: string;
  overlay_url: string;
  timings_ms?: Record<string, number>;
}

export interface Stats {
  total: number;
  ok: number;
  anomalous: number;
  false_alarms: number;
  threshold: number | null;
  by_day: { day: string; ok: number; anomalous: number }[];
}

export interface Page<T> {
  items: T[];
  /** A product name (products) or a position among the product's own inspections (inspections). Opaque either way. */
  next_cursor?: string | number | null;
}

export interface GoldenUpload {
  items: Golden[];
  duplicates: string[];
}

export interface BatchResult {
  count: number;
  ok: number;
  anomalous: number;
  failed: { filename: string; error: string | ApiErrorBody }[];
}
