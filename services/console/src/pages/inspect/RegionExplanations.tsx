import { errorText } from '../../api/client';
import { useExplanation } from '../../api/queries';
import type { GoldenPatch, Inspection, Region } from '../../api/types';
import { fmtScore } from '../../format';
import { Crop } from './Crop';
import { squareAround } from './explain';

/** "unlike this patch of golden sample 3 · distance 1.234" (an augmented view has no box to show). */
export const goldenLabel = (g: { name: string; view: number; distance: number }) =>
  `unlike ${g.view > 0 ? 'an augmented view of' : 'this patch of'} golden sample ${g.name} · distance ${fmtScore(g.distance)}`;

/** Each defect region beside the golden patch nearest to its peak; the crops load after the decision. */
export function RegionExplanations({ inspection }: { inspection: Inspection }) {
  const explain = useExplanation(inspection.product, inspection.id);
  return (
    <section className="card" aria-labelledby={`explain-${inspection.id}`} data-testid="explanations">
      <h3 id={`explain-${inspection.id}`}>Why: each region against its nearest golden patch</h3>
      {explain.error && <p className="muted small">The golden patches could not be loaded: {errorText(explain.error)}</p>}
      <ol className="explain-list">
        {inspection.regions.map((r, i) => (
          <RegionRow
            key={i}
            inspection={inspection}
            index={i}
            region={r}
            golden={explain.data?.regions.find((e) => e.region === i)?.golden}
          />
        ))}
      </ol>
    </section>
  );
}

interface RowProps {
  inspection: Inspection;
  index: number;
  region: Region;
  /** The nearest golden patches from /explain, nearest first; undefined until they have come. */
  golden: GoldenPatch[] | undefined;
}

function RegionRow({ inspection, index, region, golden }: RowProps) {
  const nearest = golden?.[0] ?? region.nearest_golden;
  return (
    <li className="explain-row">
      <figure>
        <Crop
          src={inspection.image_url}
          box={squareAround(region.bbox, inspection.width, inspection.height)}
          size={{ width: inspection.width, height: inspection.height }}
          alt={`region ${index + 1} of ${inspection.filename}`}
        />
        <figcaption>region {index + 1} · peak {fmtScore(region.peak_score)}</figcaption>
      </figure>
      {nearest ? (
        <GoldenFigure patch={golden?.[0]} caption={goldenLabel(nearest)} testId="nearest-golden" />
      ) : (
        <p className="muted small">{golden ? 'No golden patch was recorded for this region.' : 'Finding the nearest golden patch…'}</p>
      )}
      {golden?.slice(1).map((g, i) => (
        <GoldenFigure key={i} patch={g} caption={`${g.name}${g.view > 0 ? ' (augmented)' : ''} · ${fmtScore(g.distance)}`} />
      ))}
    </li>
  );
}

/** A golden patch: its crop where it has a box in the uploaded sample, and what it is. */
function GoldenFigure({ patch, caption, testId }: { patch: GoldenPatch | undefined; caption: string; testId?: string }) {
  return (
    <figure data-testid={testId}>
      {patch?.bbox && patch.image_url && <Crop src={patch.image_url} box={patch.bbox} alt={`patch of golden sample ${patch.name}`} />}
      <figcaption>{caption}</figcaption>
    </figure>
  );
}
