import * as Slider from '@radix-ui/react-slider';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { useNavigate } from 'react-router';
import { api } from '../../api/client';
import { useTuning } from '../../api/queries';
import type { Tuning } from '../../api/types';
import { ErrorBanner } from '../../components/ErrorBanner';
import { Loading } from '../../components/Loading';
import { fmtScore, plural } from '../../format';
import { paths } from '../../paths';
import { useProductChanged } from './GoldenSamples';
import { histogram, outcome, parseDecimal, span } from './tuning';

const BINS = 40;

/** A slider over the scores of `version`'s bank that shows, live, the false alarms and misses each threshold
 * would have given on the labelled history; saving makes a new version (same bank, no rebuild). */
export function ThresholdTuning({ name, version }: { name: string; version: number }) {
  const tuning = useTuning(name, version);
  if (!tuning.data) return <Loading error={tuning.error} label="Loading the scored history…" />;
  return <TuningPanel key={tuning.data.threshold} name={name} tuning={tuning.data} />;
}

function TuningPanel({ name, tuning }: { name: string; tuning: Tuning }) {
  const changed = useProductChanged(name);
  const navigate = useNavigate();
  const [text, setText] = useState(fmtScore(tuning.threshold));
  const [confirmed, setConfirmed] = useState(false);
  const [reason, setReason] = useState('');
  const [lo, hi] = span(tuning);
  const typed = parseDecimal(text);
  const valid = Number.isFinite(typed) && typed > 0;
  const t = valid ? typed : tuning.threshold;
  const now = outcome(tuning.points, tuning.threshold);
  const then = outcome(tuning.points, t);
  const aboveAll = tuning.max_score !== null && t > tuning.max_score;
  const save = useMutation({
    mutationFn: () => api.tuneVersion(name, tuning.version, t, aboveAll && confirmed, reason),
    onSuccess: async (v) => {
      await changed();
      navigate(paths.setup(name, v.version));
    },
  });
  const bins = histogram(tuning.points, lo, hi, BINS);
  const top = Math.max(1, ...bins.map((b) => b.none + b.good + b.bad));
  const x = (score: number) => ((score - lo) / (hi - lo)) * 100;

  return (
    <section className="card" aria-label="Threshold tuning" data-testid="tuning">
      <h2>Tune the threshold of v{tuning.version}</h2>
      <p className="muted small">
        {plural(now.labelled, 'labelled inspection')} and {now.unlabelled} unlabelled, scored with this fingerprint's bank. Label results on
        the Live inspection page to judge a threshold on them.
      </p>
      <svg className="histogram" viewBox="0 0 100 30" preserveAspectRatio="none" role="img" aria-label={`score distribution of ${tuning.points.length} inspections, threshold at ${fmtScore(t)}`}>
        {bins.map((b, i) => {
          const w = 100 / BINS;
          const h = (n: number) => (n / top) * 28;
          return (
            <g key={i}>
              <rect x={i * w} y={30 - h(b.none)} width={w * 0.9} height={h(b.none)} className="bin-none" />
              <rect x={i * w} y={30 - h(b.none + b.good)} width={w * 0.9} height={h(b.good)} className="bin-good" />
              <rect x={i * w} y={30 - h(b.none + b.good + b.bad)} width={w * 0.9} height={h(b.bad)} className="bin-bad" />
            </g>
          );
        })}
        <line x1={x(t)} x2={x(t)} y1={0} y2={30} className="threshold-line" />
      </svg>
      <div className="legend">
        <span className="swatch bin-none" /> unlabelled <span className="swatch bin-good" /> false alarm (good part) <span className="swatch bin-bad" /> defect
      </div>
      <span id="tune-label" className="visually-hidden">
        Threshold
      </span>
      {/* as wide as the histogram above, so the thumb sits under the dashed line */}
      <Slider.Root className="slider-root tune-slider" min={lo} max={hi} step={(hi - lo) / 500} value={[t]} onValueChange={([v]) => setText(fmtScore(v))}>
        <Slider.Track className="slider-track">
          <Slider.Range className="slider-range" />
        </Slider.Track>
        <Slider.Thumb className="slider-thumb" aria-labelledby="tune-label" />
      </Slider.Root>
      <label className="inline-field">
        Threshold
        <input inputMode="decimal" value={text} onChange={(e) => setText(e.target.value)} aria-invalid={!valid} data-testid="tune-input" className="input-short" />
      </label>
      <p data-testid="tune-outcome">
        At {fmtScore(t)}: <strong>{plural(then.falseAlarms, 'false alarm')}</strong> and <strong>{plural(then.misses, 'miss', 'misses')}</strong>{' '}
        among the labelled ({now.falseAlarms} and {now.misses} at {fmtScore(tuning.threshold)} now); {then.flagged} of {now.unlabelled} unlabelled
        flagged.
      </p>
      {!valid && <ErrorBanner error={new Error('The threshold must be a positive number (a decimal comma is fine).')} />}
      {aboveAll && (
        <label className="check">
          <input type="checkbox" checked={confirmed} onChange={(e) => setConfirmed(e.target.checked)} />
          Save anyway: this is above every score seen ({fmtScore(tuning.max_score)}), so nothing seen so far would be flagged.
        </label>
      )}
      <div className="row wrap">
        <label className="inline-field">
          Why
          <input value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} placeholder="optional, kept in the history" />
        </label>
        <button
          type="button"
          className="btn btn-primary"
          disabled={!valid || text === fmtScore(tuning.threshold) || (aboveAll && !confirmed) || save.isPending}
          onClick={() => save.mutate()}
        >
          {save.isPending ? 'Saving…' : 'Save as a new version'}
        </button>
        <span className="muted small">It is not activated: replay it first, then activate it.</span>
      </div>
      <ErrorBanner error={save.error} />
    </section>
  );
}
