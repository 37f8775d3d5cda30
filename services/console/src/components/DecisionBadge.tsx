import type { Decision } from '../api/types';

export function DecisionBadge({ decision, large }: { decision: Decision; large?: boolean }) {
  const cls = decision === 'OK' ? 'badge-ok' : 'badge-anomalous';
  return (
    <span className={`badge ${cls}${large ? ' badge-large' : ''}`} data-testid="decision">
      {decision}
    </span>
  );
}
