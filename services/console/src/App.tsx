import { useCallback, useEffect, useState } from 'react';
import { api } from './api/client';
import type { Product } from './api/types';
import { ErrorBanner } from './components/ErrorBanner';
import { ProgressBar } from './components/ProgressBar';
import { Settings } from './components/Settings';
import { AnalyticsPage } from './pages/AnalyticsPage';
import { InspectPage } from './pages/InspectPage';
import { SetupPage } from './pages/SetupPage';
import { href, type PageName, useHashRoute } from './route';

const LAST_PRODUCT = 'goldenshot.lastProduct';

const PAGES: { page: PageName; label: string }[] = [
  { page: 'setup', label: 'Product setup' },
  { page: 'inspect', label: 'Live inspection' },
  { page: 'analytics', label: 'Analytics' },
];

export function App() {
  const route = useHashRoute();
  const [products, setProducts] = useState<Product[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  // Bumped when the API key changes: everything below is mounted afresh with the new key.
  const [session, setSession] = useState(0);

  const reloadProducts = useCallback(async () => {
    try {
      const res = await api.listProducts();
      setProducts(res.items);
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, []);

  // Fresh product states (fingerprint, counts) on every page change.
  useEffect(() => {
    void reloadProducts();
  }, [reloadProducts, session, route.page]);

  // The product carries over between pages (and visits) when a link names none.
  const [last, setLast] = useState<string | null>(() => localStorage.getItem(LAST_PRODUCT));
  useEffect(() => {
    if (route.product) {
      localStorage.setItem(LAST_PRODUCT, route.product);
      setLast(route.product);
    }
  }, [route.product]);
  const known = (n: string | null) => (n && products?.some((p) => p.name === n) ? n : null);
  const current = route.product ?? (route.page === 'setup' ? null : known(last) ?? products?.[0]?.name ?? null);
  const navProduct = route.product ?? known(last);

  return (
    <div className="app">
      <header className="topbar">
        <a className="brand" href={href('setup', navProduct)}>
          goldenshot
        </a>
        <nav aria-label="Pages">
          {PAGES.map(({ page, label }) => (
            <a
              key={page}
              href={href(page, navProduct)}
              className={route.page === page ? 'active' : undefined}
              aria-current={route.page === page ? 'page' : undefined}
            >
              {label}
            </a>
          ))}
        </nav>
        <Settings onChanged={() => setSession((s) => s + 1)} />
      </header>
      <main key={session}>
        <ErrorBanner error={error} onDismiss={products ? () => setError(null) : undefined} />
        {error !== null && products === null && (
          <button type="button" className="btn" onClick={() => void reloadProducts()}>
            Try again
          </button>
        )}
        {products === null ? (
          error === null && <ProgressBar label="Connecting to the server…" />
        ) : route.page === 'setup' ? (
          <SetupPage products={products} productName={route.product} reloadProducts={reloadProducts} />
        ) : route.page === 'inspect' ? (
          <InspectPage products={products} productName={current} itemId={route.item} />
        ) : (
          <AnalyticsPage products={products} productName={current} />
        )}
      </main>
    </div>
  );
}
