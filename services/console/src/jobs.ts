// A job's progress as words and as a fraction of the whole (builds and batches).
import type { Job } from './api/types';

// The stages the server reports (services/builder, goldenshot.fewshot.fit, services/scorer/batch).
const STAGES: Record<string, string> = {
  queued: 'Waiting to start',
  loading: 'Reading golden samples',
  features: 'Extracting features',
  coreset: 'Selecting the coreset',
  threshold: 'Computing the threshold',
  storing: 'Storing the fingerprint',
  inspecting: 'Inspecting',
  replaying: 'Scoring stored inspections again',
  done: 'Done',
  failed: 'Failed',
};

// A build reports done/total per stage; these shares of the bar make it move forward only.
const BUILD_SPAN: Record<string, [number, number]> = {
  loading: [0, 0.1],
  features: [0.1, 0.65],
  coreset: [0.65, 0.85],
  threshold: [0.85, 0.9],
  storing: [0.9, 1],
};

const BUILD_STEPS = Object.keys(BUILD_SPAN);

/** What a job is doing, in words that agree with the bar's percentage (which is of the whole job):
 * a build names its step of the whole ("Step 5 of 5: storing the fingerprint"), not the stage's own
 * counter, which read "(1 of 3) · 93 %"; only the images of the long steps are counted. */
export function jobLabel(job: Job): string {
  if (job.state === 'queued') return 'Waiting to start…';
  const { stage, done, total } = job.progress;
  const what = STAGES[stage] ?? (stage ? stage[0].toUpperCase() + stage.slice(1) : 'Working');
  const step = job.kind === 'build' ? BUILD_STEPS.indexOf(stage) : -1;
  if (step < 0) return total > 0 ? `${what} (${done} of ${total})` : `${what}…`;
  const images = (stage === 'loading' || stage === 'features') && total > 0 ? `, image ${done} of ${total}` : '';
  return `Step ${step + 1} of ${BUILD_STEPS.length}: ${what[0].toLowerCase()}${what.slice(1)}${images}`;
}

export function jobFraction(job: Job): number {
  if (job.state === 'succeeded') return 1;
  const { stage, done, total, fraction } = job.progress;
  const f = total > 0 ? done / total : fraction;
  const span = job.kind === 'build' ? BUILD_SPAN[stage] : undefined;
  return span ? span[0] + (span[1] - span[0]) * f : f;
}

/** The images a finished batch could not inspect (the API types a job's result as a free-form object). */
export function batchFailures(job: Job): { filename: string; error: string }[] {
  const failed = job.result?.failed;
  if (!Array.isArray(failed)) return [];
  return failed.map((f: { filename?: unknown; error?: unknown }) => ({
    filename: String(f.filename ?? '?'),
    error: String(typeof f.error === 'object' && f.error !== null ? (f.error as { message?: unknown }).message : (f.error ?? '')),
  }));
}
