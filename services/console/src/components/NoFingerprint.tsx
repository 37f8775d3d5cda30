import { Link } from 'react-router';
import { paths } from '../paths';

/** The empty state of a page that needs a fingerprint, opened on a product without one: what is missing
 * and the one place to fix it, instead of an empty viewer or charts of nothing. */
export function NoFingerprint({ name, what }: { name: string; what: string }) {
  return (
    <section className="card empty-state" data-testid="no-fingerprint" aria-label="No fingerprint yet">
      <h2>{name} has no fingerprint yet</h2>
      <p className="muted">{what}</p>
      <Link className="btn btn-primary" to={paths.setup(name)}>
        Set up {name}: golden samples and fingerprint
      </Link>
    </section>
  );
}
