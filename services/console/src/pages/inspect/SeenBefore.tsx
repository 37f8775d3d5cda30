import { Link } from 'react-router';
import { errorText } from '../../api/client';
import { SIMILAR_LIMIT, useSimilar } from '../../api/queries';
import type { Inspection } from '../../api/types';
import { DecisionBadge } from '../../components/DecisionBadge';
import { Time } from '../../components/Time';
import { paths } from '../../paths';
import { Crop } from './Crop';
import { labelOf, seenSummary, squareAround } from './explain';

/** Past inspections of the product with the most similar defects, each a link to its result. */
export function SeenBefore({ inspection }: { inspection: Inspection }) {
  const similar = useSimilar(inspection.product, inspection.id);
  const items = similar.data?.items ?? [];
  const summary = similar.data && seenSummary(items, SIMILAR_LIMIT, Date.now());
  return (
    <section className="card" aria-labelledby={`seen-${inspection.id}`} data-testid="seen-before">
      <h3 id={`seen-${inspection.id}`}>Seen before</h3>
      <p className="muted small" data-testid="seen-summary">
        {similar.error
          ? `Similar past defects could not be loaded: ${errorText(similar.error)}`
          : !similar.data
            ? 'Looking for similar past defects…'
            : (summary ?? 'No similar defect has been seen before on this product.')}
      </p>
      {items.length > 0 && (
        <ul className="seen-list">
          {items.map(({ inspection: past, matched_region }) => (
            <li key={past.id}>
              <Link to={paths.inspect(past.product, past.id)}>
                <Crop
                  src={past.image_url}
                  box={squareAround(past.regions[matched_region]?.bbox ?? [0, 0, past.width, past.height], past.width, past.height)}
                  size={{ width: past.width, height: past.height }}
                  alt={past.filename}
                />
                <span className="seen-caption">
                  <DecisionBadge decision={past.decision} /> {labelOf(past)} · <Time iso={past.created_at} />
                </span>
              </Link>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
