import { useActivations } from '../../api/queries';
import { fmtTime } from '../../format';

/** Who activated which version, when, and which one it replaced (builds activate their version too). */
export function ActivationHistory({ name }: { name: string }) {
  const history = useActivations(name);
  if (!history.data || history.data.length === 0) return null;
  return (
    <>
      <h3>Activation history</h3>
      <div className="table-wrap">
        <table data-testid="activation-history">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Activated</th>
              <th scope="col">Replacing</th>
              <th scope="col">By</th>
            </tr>
          </thead>
          <tbody>
            {history.data.map((a) => (
              <tr key={`${a.created_at}-${a.version}`}>
                <td className="nowrap">{fmtTime(a.created_at)}</td>
                <td>v{a.version}</td>
                <td>{a.previous_version !== null ? `v${a.previous_version}` : '–'}</td>
                <td>{a.actor}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
