// The engineer's watch over a product: drift, golden sample health, ignore mask. Calls and queries of its
// own module beside `api`, keyed under ['product', name] so a product's invalidation refreshes them too.
import { useQuery } from '@tanstack/react-query';
import { call, http } from './client';
import type { components } from './schema';

export type Drift = components['schemas']['DriftOut'];
export type SampleHealth = components['schemas']['SampleHealthOut'];
export type SampleHealthList = components['schemas']['SampleHealthList'];
/** A shape as the API answers it (the client types a polygon's points as number[][]). */
export type Shape = components['schemas']['Rect'] | { kind: 'polygon'; points: number[][] };
type ShapeIn = components['schemas']['IgnoreMaskIn']['shapes'][number];

/** The request's form of a shape: polygon points as (x, y) pairs. */
const shapeIn = (s: Shape): ShapeIn => (s.kind === 'polygon' ? { kind: 'polygon', points: s.points.map(([x, y]): [number, number] => [x, y]) } : s);

const DRIFT_REFRESH_MS = 30_000;
const product = (name: string) => ({ params: { path: { name } } });

export const healthApi = {
  drift: (name: string) => call(http.GET('/v1/products/{name}/drift', product(name))),
  versionSamples: (name: string, version: number) =>
    call(http.GET('/v1/products/{name}/fingerprints/{version}/samples', { params: { path: { name, version } } })),
  ignoreMask: (name: string) => call(http.GET('/v1/products/{name}/ignore-mask', product(name))),
  setIgnoreMask: (name: string, shapes: Shape[]) =>
    call(http.PUT('/v1/products/{name}/ignore-mask', { ...product(name), body: { shapes: shapes.map(shapeIn) } })),
};

export const healthKeys = {
  drift: (name: string) => ['product', name, 'drift'] as const,
  samples: (name: string, version: number) => ['product', name, 'versions', version, 'samples'] as const,
  mask: (name: string) => ['product', name, 'ignore-mask'] as const,
};

export const useDrift = (name: string) =>
  useQuery({ queryKey: healthKeys.drift(name), queryFn: () => healthApi.drift(name), refetchInterval: DRIFT_REFRESH_MS });
/** The golden samples a version was built from, with their leave-one-out scores; idle without a version. */
export const useVersionSamples = (name: string, version: number | null) =>
  useQuery({ queryKey: healthKeys.samples(name, version ?? -1), queryFn: () => healthApi.versionSamples(name, version!), enabled: version !== null });
export const useIgnoreMask = (name: string) => useQuery({ queryKey: healthKeys.mask(name), queryFn: () => healthApi.ignoreMask(name) });
