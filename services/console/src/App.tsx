import * as Tooltip from '@radix-ui/react-tooltip';
import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { Link, Navigate, Outlet, useLocation, useMatches, useOutletContext, type RouteObject } from 'react-router';
import { useProducts } from './api/queries';
import type { Product } from './api/types';
import { ErrorBanner } from './components/ErrorBanner';
import { ProgressBar } from './components/ProgressBar';
import { Settings } from './components/Settings';
import { AnalyticsPage } from './pages/AnalyticsPage';
import { InspectPage } from './pages/InspectPage';
import { LinesPage } from './pages/LinesPage';
import { SetupPage } from './pages/SetupPage';
import { type PageName, paths } from './paths';

const LAST_PRODUCT = 'goldenshot.lastProduct';

const PAGES: { page: PageName; label: string }[] = [
  { page: 'setup', label: 'Product setup' },
  { page: 'inspect', label: 'Live inspection' },
  { page: 'analytics', label: 'Analytics' },
  { page: 'lines', label: 'Lines' },
];

export const routes: RouteObject[] = [
  {
    path: '/',
    element: <Shell />,
    children: [
      { index: true, element: <Navigate to={paths.setup()} replace /> },
      { path: 'setup/:product?', element: <SetupPage /> },
      { path: 'setup/:product/versions/:version', element: <SetupPage /> },
      { path: 'inspect/:product?/:inspection?', element: <InspectPage /> },
      { path: 'analytics/:product?', element: <AnalyticsPage /> },
      { path: 'lines', element: <LinesPage /> },
      { path: '*', element: <Navigate to={paths.setup()} replace /> },
    ],
  },
];

/** The products, for every page (the shell loads them before any page shows). */
export const useProductList = () => useOutletContext<Product[]>();

/** The product a page without one in its URL shows: the last one opened, else the first. */
export function defaultProduct(products: Product[]): string | null {
  const last = localStorage.getItem(LAST_PRODUCT);
  return (products.some((p) => p.name === last) ? last : products[0]?.name) ?? null;
}

function Shell() {
  const products = useProducts();
  const queryClient = useQueryClient();
  const { pathname } = useLocation();
  const routeProduct = useMatches().at(-1)?.params.product ?? null;
  const page = PAGES.find((p) => pathname.startsWith(`/${p.page}`))?.page;
  // Mounted afresh with a new API key (pictures are fetched with it).
  const [session, setSession] = useState(0);

  // The product carries over between pages (and visits) when a link names none.
  const [last, setLast] = useState(() => localStorage.getItem(LAST_PRODUCT));
  useEffect(() => {
    if (routeProduct) {
      localStorage.setItem(LAST_PRODUCT, routeProduct);
      setLast(routeProduct);
    }
  }, [routeProduct]);
  const navProduct = routeProduct ?? (products.data?.some((p) => p.name === last) ? last : null);

  return (
    <Tooltip.Provider delayDuration={300}>
      <div className="app">
        <header className="topbar">
          <Link className="brand" to={paths.setup(navProduct)}>
            goldenshot
          </Link>
          <nav aria-label="Pages">
            {PAGES.map((p) => (
              <Link
                key={p.page}
                to={paths[p.page](navProduct)}
                className={p.page === page ? 'active' : undefined}
                aria-current={p.page === page ? 'page' : undefined}
              >
                {p.label}
              </Link>
            ))}
          </nav>
          <Settings
            onChanged={() => {
              setSession((s) => s + 1);
              void queryClient.resetQueries();
            }}
          />
        </header>
        <main key={session}>
          {products.data ? (
            <>
              <ErrorBanner error={products.error} />
              <Outlet context={products.data} />
            </>
          ) : products.error ? (
            <>
              <ErrorBanner error={products.error} />
              <button type="button" className="btn" onClick={() => void products.refetch()}>
                Try again
              </button>
            </>
          ) : (
            <ProgressBar label="Connecting to the server…" />
          )}
        </main>
      </div>
    </Tooltip.Provider>
  );
}
