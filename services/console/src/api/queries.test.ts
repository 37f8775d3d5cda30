import { describe, expect, it } from 'vitest';
import { pathFromLegacyHash, paths } from '../paths';
import { ApiError } from './client';
import { shouldRetry } from './queries';

describe('retry policy', () => {
  it('retries an unreachable or restarting server twice, and never a refusal', () => {
    const network = new ApiError(0, 'network', 'Failed to fetch');
    expect(shouldRetry(0, network)).toBe(true);
    expect(shouldRetry(1, new ApiError(503, 'unavailable', ''))).toBe(true);
    expect(shouldRetry(2, network)).toBe(false);
    expect(shouldRetry(0, new ApiError(404, 'not_found', ''))).toBe(false);
    expect(shouldRetry(0, new ApiError(401, 'unauthorized', ''))).toBe(false);
    expect(shouldRetry(0, new ApiError(500, 'internal', ''))).toBe(false);
    expect(shouldRetry(0, new Error('a bug'))).toBe(false);
  });
});

describe('URLs', () => {
  it('gives every product, version and inspection its own path', () => {
    expect(paths.setup()).toBe('/setup');
    expect(paths.setup('tile', 2)).toBe('/setup/tile/versions/2');
    expect(paths.setup(null, 2)).toBe('/setup');
    expect(paths.inspect('tile', 'a b')).toBe('/inspect/tile/a%20b');
    expect(paths.inspect(null, 'x')).toBe('/inspect');
    expect(paths.analytics('tile')).toBe('/analytics/tile');
  });

  it('turns an old hash link into its path', () => {
    expect(pathFromLegacyHash('#/inspect/tile/abc')).toBe('/inspect/tile/abc');
    expect(pathFromLegacyHash('#/analytics')).toBe('/analytics');
    expect(pathFromLegacyHash('#/elsewhere')).toBeNull();
    expect(pathFromLegacyHash('')).toBeNull();
  });
});
