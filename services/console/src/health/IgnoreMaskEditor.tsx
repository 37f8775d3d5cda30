import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { errorText } from '../api/client';
import { healthApi, healthKeys, type Shape, useIgnoreMask } from '../api/health';
import { useInspections } from '../api/queries';
import type { Golden } from '../api/types';
import { AuthImage } from '../components/AuthImage';
import { ErrorBanner, Notice } from '../components/ErrorBanner';
import { plural } from '../format';
import './health.css';

type Mode = 'rect' | 'polygon';
type Backdrop = { key: string; label: string; url: string };
type Point = [number, number];

const RECENT_BACKDROPS = 5; // the latest inspections offered as backdrops beside the golden samples
const MIN_SIDE = 0.01; // a click, not a drag: no rectangle
const clamp = (v: number) => Math.min(1, Math.max(0, v));
const round = (v: number) => Math.round(v * 10_000) / 10_000;

/** Normalised (0..1) coordinates of a pointer event over an element. */
function at(e: React.PointerEvent, el: Element): Point {
  const r = el.getBoundingClientRect();
  return [round(clamp((e.clientX - r.left) / r.width)), round(clamp((e.clientY - r.top) / r.height))];
}

export function rectBetween([x0, y0]: Point, [x1, y1]: Point): Shape | null {
  const width = round(Math.abs(x1 - x0));
  const height = round(Math.abs(y1 - y0));
  if (width < MIN_SIDE || height < MIN_SIDE) return null;
  return { kind: 'rect', x: Math.min(x0, x1), y: Math.min(y0, y1), width, height };
}

const outline = (s: Shape): Point[] =>
  s.kind === 'rect'
    ? [[s.x, s.y], [s.x + s.width, s.y], [s.x + s.width, s.y + s.height], [s.x, s.y + s.height]]
    : (s.points as Point[]);

export const describe = (s: Shape) =>
  s.kind === 'rect'
    ? `rectangle at ${Math.round(s.x * 100)} %, ${Math.round(s.y * 100)} %, ${Math.round(s.width * 100)} × ${Math.round(s.height * 100)} %`
    : `polygon of ${s.points.length} points`;

/**
 * A product's ignore mask (labels, fixtures, pen marks), drawn over one of its golden samples or latest
 * inspections: drag for a rectangle, or click the corners of a polygon. Saved whole; inspections from the
 * next one on do not judge it.
 */
export function IgnoreMaskEditor({ name, samples }: { name: string; samples: Golden[] }) {
  const queryClient = useQueryClient();
  const stored = useIgnoreMask(name);
  const recent = useInspections(name, { limit: RECENT_BACKDROPS }).data ?? [];
  const backdrops: Backdrop[] = [
    ...samples.map((g) => ({ key: `golden-${g.id}`, label: `golden sample ${g.filename}`, url: g.image_url })),
    ...recent.map((i) => ({ key: `inspection-${i.id}`, label: `inspection ${i.filename} (${i.decision})`, url: i.image_url })),
  ];
  const [shapes, setShapes] = useState<Shape[] | null>(null); // null: unchanged since loaded
  const [backdrop, setBackdrop] = useState(backdrops[0]?.key ?? '');
  const [mode, setMode] = useState<Mode>('rect');
  const [start, setStart] = useState<Point | null>(null);
  const [pointer, setPointer] = useState<Point | null>(null);
  const [points, setPoints] = useState<Point[]>([]);
  const surface = useRef<SVGSVGElement>(null);
  const save = useMutation({
    mutationFn: (list: Shape[]) => healthApi.setIgnoreMask(name, list),
    onSuccess: (mask) => {
      queryClient.setQueryData(healthKeys.mask(name), mask);
      setShapes(null);
    },
  });
  const first = backdrops[0]?.key ?? '';
  const known = backdrops.some((b) => b.key === backdrop);
  useEffect(() => {
    if (!known) setBackdrop(first);
  }, [known, first]);

  const current: Shape[] = shapes ?? stored.data?.shapes ?? [];
  const edit = (next: Shape[]) => {
    save.reset();
    setShapes(next);
  };
  const image = backdrops.find((b) => b.key === backdrop);
  const drawing = start && pointer ? rectBetween(start, pointer) : null;

  const down = (e: React.PointerEvent<SVGSVGElement>) => {
    const p = at(e, e.currentTarget);
    if (mode === 'polygon') {
      setPoints((list) => [...list, p]);
      return;
    }
    e.currentTarget.setPointerCapture?.(e.pointerId);
    setStart(p);
    setPointer(p);
  };
  const move = (e: React.PointerEvent<SVGSVGElement>) => {
    if (start) setPointer(at(e, e.currentTarget));
  };
  const up = (e: React.PointerEvent<SVGSVGElement>) => {
    if (!start) return;
    const shape = rectBetween(start, at(e, e.currentTarget));
    setStart(null);
    setPointer(null);
    if (shape) edit([...current, shape]);
  };
  const closePolygon = () => {
    if (points.length >= 3) edit([...current, { kind: 'polygon', points }]);
    setPoints([]);
  };

  return (
    <section className="card" aria-label="Ignore mask">
      <div className="card-head">
        <div>
          <h2>Ignore mask</h2>
          <p className="muted small">
            Regions inspections do not judge: labels, fixtures, pen marks. A defect inside them neither raises the score nor makes a region.
            Leave a margin around what you mask.
          </p>
        </div>
      </div>
      {backdrops.length === 0 ? (
        <p className="muted">Upload a golden sample to draw the mask over it.</p>
      ) : (
        <>
          <div className="row wrap mask-tools">
            <label className="inline-field">
              Drawn over
              <select value={backdrop} onChange={(e) => setBackdrop(e.target.value)}>
                {backdrops.map((b) => (
                  <option key={b.key} value={b.key}>
                    {b.label}
                  </option>
                ))}
              </select>
            </label>
            <div role="radiogroup" aria-label="Shape" className="row">
              {(['rect', 'polygon'] as const).map((m) => (
                <label key={m} className="inline-field">
                  <input type="radio" name="mask-mode" checked={mode === m} onChange={() => { setMode(m); setPoints([]); }} />
                  {m === 'rect' ? 'Rectangle (drag)' : 'Polygon (click corners)'}
                </label>
              ))}
            </div>
            {mode === 'polygon' && (
              <button type="button" className="btn btn-small" disabled={points.length < 3} onClick={closePolygon}>
                Close polygon ({points.length} points)
              </button>
            )}
          </div>
          <div className="mask-canvas" data-testid="mask-canvas">
            <AuthImage src={image?.url} alt={image?.label ?? ''} />
            <svg
              ref={surface}
              viewBox="0 0 1 1"
              preserveAspectRatio="none"
              aria-label="Drawing surface of the ignore mask"
              role="img"
              data-testid="mask-surface"
              onPointerDown={down}
              onPointerMove={move}
              onPointerUp={up}
            >
              {current.map((s, i) => (
                <polygon key={i} className="mask-shape" points={outline(s).map((p) => p.join(',')).join(' ')} vectorEffect="non-scaling-stroke" />
              ))}
              {drawing && <polygon className="mask-shape mask-draft" points={outline(drawing).map((p) => p.join(',')).join(' ')} vectorEffect="non-scaling-stroke" />}
              {points.length > 0 && <polyline className="mask-shape mask-draft" points={points.map((p) => p.join(',')).join(' ')} vectorEffect="non-scaling-stroke" />}
            </svg>
          </div>
        </>
      )}
      {current.length > 0 && (
        <ul className="mask-list" data-testid="mask-shapes">
          {current.map((s, i) => (
            <li key={i} className="row">
              <span>{describe(s)}</span>
              <button type="button" className="btn btn-small" aria-label={`Remove ${describe(s)}`} onClick={() => edit(current.filter((_, j) => j !== i))}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      {stored.error && <p className="muted small">The stored mask could not be read ({errorText(stored.error)}); saving is off until it can.</p>}
      <ErrorBanner error={save.error} onDismiss={() => save.reset()} />
      {save.isSuccess && <Notice>Ignore mask saved: {plural(current.length, 'region')} not judged from the next inspection on.</Notice>}
      <div className="row">
        <button type="button" className="btn btn-primary" disabled={shapes === null || save.isPending || !stored.data} onClick={() => save.mutate(current)}>
          {save.isPending ? 'Saving…' : 'Save mask'}
        </button>
        <button type="button" className="btn" disabled={current.length === 0 || save.isPending} onClick={() => edit([])}>
          Clear all
        </button>
        {shapes !== null && <span className="muted small">unsaved changes</span>}
      </div>
    </section>
  );
}
