import * as Slider from '@radix-ui/react-slider';
import { useState } from 'react';
import type { Inspection, Version } from '../api/types';
import { fmtScore, plural } from '../format';
import { AuthImage } from './AuthImage';
import { DecisionBadge } from './DecisionBadge';
import { InspectionActions } from './InspectionActions';
import { ScoreBar } from './ScoreBar';
import { Time } from './Time';

/** Region polygons (image pixels) drawn over a picture of the same size, white on a black halo: one of
 * the two contrasts with every heatmap colour (a single cyan line vanished on the map's cyan). */
export function RegionOutlines({ inspection }: { inspection: Inspection }) {
  const { width, height, regions } = inspection;
  const shape = (r: Inspection['regions'][number], className: string) =>
    r.polygon && r.polygon.length >= 3 ? (
      <polygon points={r.polygon.map(([x, y]) => `${x},${y}`).join(' ')} className={className} />
    ) : (
      <rect x={r.bbox[0]} y={r.bbox[1]} width={r.bbox[2]} height={r.bbox[3]} className={className} />
    );
  return (
    <svg
      className="stack-layer"
      viewBox={`0 0 ${width} ${height}`}
      preserveAspectRatio="none"
      data-testid="region-outlines"
      aria-label={plural(regions.length, 'region')}
    >
      {regions.map((r, i) => (
        <g key={i}>
          <title>{`region ${i + 1}: peak ${fmtScore(r.peak_score)}, area ${r.area} px`}</title>
          {shape(r, 'region-halo')}
          {shape(r, 'region-outline')}
        </g>
      ))}
    </svg>
  );
}

/** What the heatmap's colours and the outlines mean: the server paints JET over 0 .. 2x the region
 * threshold (goldenshot/overlay.py), and outlines what passes the threshold. */
export function HeatmapLegend() {
  return (
    <div className="heat-legend" data-testid="heatmap-legend">
      <span>0</span>
      <div className="heat-legend-bar" aria-hidden="true" />
      <span>2× region threshold</span>
      <span className="heat-legend-mid">
        <span className="outline-swatch" aria-hidden="true" /> region threshold: regions are outlined from here
      </span>
    </div>
  );
}

interface Props {
  inspection: Inspection;
  /** The golden samples' scores of the inspection's fingerprint version, when known. */
  golden?: Version['golden_scores'] | null;
  /** Shown for an ANOMALOUS result that has no feedback yet. */
  onFalseAlarm?: (addToGolden: boolean) => void;
  feedbackBusy?: boolean;
}

/** One result: decision, score against threshold, original beside the heatmap overlay. */
export function InspectionViewer({ inspection, golden, onFalseAlarm, feedbackBusy }: Props) {
  const [opacity, setOpacity] = useState(60);
  const [outlines, setOutlines] = useState(true);
  const [addToGolden, setAddToGolden] = useState(false);
  const ins = inspection;
  const aspect = ins.width > 0 && ins.height > 0 ? `${ins.width} / ${ins.height}` : '1 / 1';

  return (
    <section className="viewer" data-testid="inspection-viewer" aria-label={`result for ${ins.filename}`}>
      <header className="viewer-head">
        <DecisionBadge decision={ins.decision} large />
        <div className="viewer-title">
          <div className="viewer-file" title={ins.filename}>
            {ins.filename}
          </div>
          <div className="muted small">
            fingerprint v{ins.version} · {ins.width}×{ins.height} px · {plural(ins.regions.length, 'region')} ·{' '}
            <Time iso={ins.created_at} />
          </div>
        </div>
        <InspectionActions inspection={ins} />
      </header>
      <ScoreBar score={ins.score} threshold={ins.threshold} golden={golden} />

      <div className="viewer-images">
        <figure>
          <div className="stack" style={{ aspectRatio: aspect }}>
            <AuthImage className="stack-layer" src={ins.image_url} alt={`original ${ins.filename}`} />
          </div>
          <figcaption>Original</figcaption>
        </figure>
        <figure>
          <div className="stack" style={{ aspectRatio: aspect }}>
            <AuthImage className="stack-layer" src={ins.image_url} alt="" aria-hidden="true" />
            <AuthImage
              className="stack-layer heatmap-layer"
              src={ins.heatmap_url}
              alt={`heatmap ${ins.filename}`}
              data-testid="heatmap"
              style={{ opacity: opacity / 100 }}
            />
            {outlines && <RegionOutlines inspection={ins} />}
          </div>
          <figcaption>Heatmap overlay</figcaption>
          <HeatmapLegend />
        </figure>
      </div>

      <div className="viewer-controls">
        <div className="slider">
          <span id={`opacity-${ins.id}`}>Heatmap opacity</span>
          <Slider.Root className="slider-root" min={0} max={100} step={5} value={[opacity]} onValueChange={([v]) => setOpacity(v)}>
            <Slider.Track className="slider-track">
              <Slider.Range className="slider-range" />
            </Slider.Track>
            <Slider.Thumb className="slider-thumb" aria-labelledby={`opacity-${ins.id}`} />
          </Slider.Root>
          <span className="slider-value">{opacity} %</span>
        </div>
        <label className="check">
          <input type="checkbox" checked={outlines} onChange={(e) => setOutlines(e.target.checked)} />
          Region outlines
        </label>
      </div>

      {ins.feedback === 'false_alarm' ? (
        <div className="feedback-done" data-testid="false-alarm-marked">
          Marked as a false alarm.
        </div>
      ) : (
        ins.decision === 'ANOMALOUS' &&
        onFalseAlarm && (
          <div className="feedback">
            <button type="button" className="btn" disabled={feedbackBusy} onClick={() => onFalseAlarm(addToGolden)}>
              {feedbackBusy ? 'Marking…' : 'Mark as false alarm'}
            </button>
            <label className="check">
              <input type="checkbox" checked={addToGolden} onChange={(e) => setAddToGolden(e.target.checked)} />
              also add this image to the golden samples
            </label>
          </div>
        )
      )}
    </section>
  );
}
