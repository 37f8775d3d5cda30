import { useEffect, useState } from 'react';

export type PageName = 'setup' | 'inspect' | 'analytics';

export interface Route {
  page: PageName;
  product: string | null;
  /** An inspection id (inspect page only). */
  item: string | null;
}

/** "#/inspect/tile/abc" -> {page: 'inspect', product: 'tile', item: 'abc'}; anything else -> setup. */
export function parseHash(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const page = (['setup', 'inspect', 'analytics'] as const).find((p) => p === parts[0]) ?? 'setup';
  return { page, product: parts[1] ?? null, item: page === 'inspect' ? (parts[2] ?? null) : null };
}

export function href(page: PageName, product?: string | null, item?: string | null): string {
  let h = `#/${page}`;
  if (product) h += `/${encodeURIComponent(product)}`;
  if (product && item) h += `/${encodeURIComponent(item)}`;
  return h;
}

export function navigate(page: PageName, product?: string | null, item?: string | null): void {
  window.location.hash = href(page, product, item);
}

export function useHashRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(window.location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}
