import { describe, expect, it, vi } from 'vitest';
import { api, ApiError, listAllInspections, listAllProducts, setApiKey } from './client';
import { fakeApi, inspection, product } from '../test/fakeApi';

describe('api client', () => {
  it('sends no X-API-Key without a key and the stored one after setApiKey', async () => {
    const { calls } = fakeApi([['GET', /^\/v1\/products$/, () => ({ items: [product('tile')] })]]);
    await api.listProducts();
    expect(calls[0].headers.get('X-API-Key')).toBeNull();
    setApiKey('  secret-1 ');
    await api.listProducts();
    expect(calls[1].headers.get('X-API-Key')).toBe('secret-1');
    setApiKey('');
    expect(localStorage.getItem('goldenshot.apiKey')).toBeNull();
  });

  it('posts JSON with a content type and relative URLs', async () => {
    const { calls } = fakeApi([['POST', /^\/v1\/products$/, () => ({ status: 201, body: product('tile') })]]);
    const p = await api.createProduct('tile', 'desc');
    expect(p.name).toBe('tile');
    expect(calls[0].path).toBe('/v1/products');
    expect(calls[0].headers.get('Content-Type')).toBe('application/json');
    expect(calls[0].body).toEqual({ name: 'tile', description: 'desc' });
  });

  it('turns the error envelope into an ApiError with code, status and a plain message', async () => {
    fakeApi([
      ['GET', /^\/v1\/products\/x$/, () => ({ status: 404, body: { error: { code: 'not_found', message: "product 'x' does not exist" } } })],
      ['POST', /inspect$/, () => ({ status: 409, body: { error: { code: 'no_fingerprint', message: 'no fingerprint' } } })],
      ['GET', /^\/v1\/products$/, () => ({ status: 401, body: { error: { code: 'unauthorized', message: 'bad key' } } })],
    ]);
    const e1 = await api.getProduct('x').catch((e) => e);
    expect(e1).toBeInstanceOf(ApiError);
    expect(e1.code).toBe('not_found');
    expect(e1.status).toBe(404);
    expect(e1.message).toBe("product 'x' does not exist.");
    const e2 = await api.inspect('tile', new File(['x'], 'a.jpg')).catch((e) => e);
    expect(e2.message).toMatch(/no fingerprint yet.*generate one/i);
    const e3 = await api.listProducts().catch((e) => e);
    expect(e3.message).toMatch(/API key/);
  });

  it('explains a server it cannot reach and an answer that is not JSON', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
    const e = await api.listProducts().catch((x) => x);
    expect(e.code).toBe('network');
    expect(e.message).toMatch(/Cannot reach the goldenshot server/);
    vi.stubGlobal('fetch', vi.fn(async () => new Response('<html>Bad gateway</html>', { status: 502 })));
    const e2 = await api.listProducts().catch((x) => x);
    expect(e2.message).toBe('The server answered with an error (HTTP 502).');
  });

  it('follows next_cursor across pages up to the limit', async () => {
    const { calls } = fakeApi([
      [
        'GET',
        /inspections\?(limit=2$|limit=1&cursor=0$)/,
        (c) => (c.path.includes('cursor=0') ? { items: [inspection('z', 1)], next_cursor: null } : { items: [inspection('y', 1)], next_cursor: 0 }),
      ],
      [
        'GET',
        /inspections\?/,
        (c) =>
          c.path.includes('cursor=p2')
            ? { items: [inspection('c', 1)], next_cursor: null }
            : { items: [inspection('a', 1), inspection('b', 3)], next_cursor: 'p2' },
      ],
    ]);
    const all = await listAllInspections('tile', { batch: 'j1' }, 10);
    expect(all.map((i) => i.id)).toEqual(['a', 'b', 'c']);
    expect(calls[0].path).toBe('/v1/products/tile/inspections?batch=j1&limit=10');
    expect(calls[1].path).toContain('cursor=p2');
    // the embedded server's cursors are integers, 0 included
    expect((await listAllInspections('tile', {}, 2)).map((i) => i.id)).toEqual(['y', 'z']);
  });

  it('lists every product, page after page', async () => {
    const { calls } = fakeApi([
      ['GET', /^\/v1\/products\?cursor=b$/, () => ({ items: [product('c')], next_cursor: null })],
      ['GET', /^\/v1\/products$/, () => ({ items: [product('a'), product('b')], next_cursor: 'b' })],
    ]);
    expect((await listAllProducts()).map((p) => p.name)).toEqual(['a', 'b', 'c']);
    expect(calls.map((c) => c.path)).toEqual(['/v1/products', '/v1/products?cursor=b']);
  });

  it('sends golden uploads as multipart "files" parts and inspections as one "file" part', async () => {
    const { calls } = fakeApi([
      ['POST', /golden$/, () => ({ status: 201, body: { items: [], duplicates: [] } })],
      ['POST', /inspect$/, () => inspection('i', 1)],
    ]);
    await api.uploadGolden('tile', [new File(['a'], 'a.jpg'), new File(['b'], 'b.jpg')]);
    const fd = calls[0].body as FormData;
    expect(fd.getAll('files').map((f) => (f as File).name)).toEqual(['a.jpg', 'b.jpg']);
    await api.inspect('tile', new File(['a'], 'c.png'));
    expect(((calls[1].body as FormData).get('file') as File).name).toBe('c.png');
  });
});
