// The console's URLs: one for every product, version and inspection, so a link can go into a report.

export type PageName = 'setup' | 'inspect' | 'analytics' | 'lines';

const seg = (s: string | number) => `/${encodeURIComponent(String(s))}`;

export const paths = {
  setup: (product?: string | null, version?: number | null) =>
    `/setup${product ? seg(product) : ''}${product && version != null ? `/versions${seg(version)}` : ''}`,
  inspect: (product?: string | null, inspection?: string | null) =>
    `/inspect${product ? seg(product) : ''}${product && inspection ? seg(inspection) : ''}`,
  analytics: (product?: string | null) => `/analytics${product ? seg(product) : ''}`,
  lines: () => '/lines',
};

/** The path an old hash link ("#/inspect/tile/abc", before the console had real URLs) stands for, or null. */
export function pathFromLegacyHash(hash: string): string | null {
  const m = /^#\/(setup|inspect|analytics)(\/.*)?$/.exec(hash);
  return m ? `/${m[1]}${m[2] ?? ''}` : null;
}
