import { describe, expect, it } from 'vitest';
import { buildSimApp } from '../src/http/app.js';
import { get, useSimulator } from './helpers.js';

// Strict mode makes a test fail when the code under test calls an endpoint the simulator does not
// implement, instead of letting it pass on GitLab's generic 404 (lib/api/api.rb catch-all route).

describe('strict mode', () => {
  const sim = useSimulator({ strict: true });

  it('an unimplemented endpoint → 501, recorded as unexpected — instead of lib/api/api.rb route :any, "*path"', async () => {
    const s = sim();
    const res = await get(s, '/projects/1/pipelines');
    expect(res.status).toBe(501);
    expect(res.body).toEqual({
      error: 'The GitLab simulator does not implement GET /api/v4/projects/1/pipelines (strict mode)',
    });
    expect(s.requests({ path: '/api/v4/projects/1/pipelines' })).toMatchObject([
      { method: 'GET', status: 501 },
    ]);
    expect(s.unexpected).toMatchObject([
      { method: 'GET', path: '/api/v4/projects/1/pipelines', reason: 'not implemented' },
    ]);
    expect(() => s.assertNoUnexpected()).toThrow(
      'GitLab simulator saw unexpected requests:\nGET /api/v4/projects/1/pipelines: not implemented',
    );
    s.clearUnexpected();
    expect(() => s.assertNoUnexpected()).not.toThrow();
  });

  it('implemented endpoints are not unexpected — lib/api/version.rb', async () => {
    const s = sim();
    expect((await get(s, '/version')).status).toBe(200);
    expect(s.unexpected).toEqual([]);
    expect(() => s.assertNoUnexpected()).not.toThrow();
  });

  it('lists unexpected requests over HTTP and forgets them on DELETE — /-/sim/unexpected', async () => {
    const s = sim();
    await get(s, '/-/nope/page');
    const listed = await get(s, '/-/sim/unexpected');
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual([
      { method: 'GET', path: '/-/nope/page', at: expect.any(String), reason: 'not implemented' },
    ]);
    expect((await get(s, '/-/sim/unexpected', { token: null })).status).toBe(401);
    const { status } = await fetch(`${s.url}/-/sim/unexpected`, {
      method: 'DELETE',
      headers: { 'private-token': s.adminToken },
    });
    expect(status).toBe(204);
    expect(s.unexpected).toEqual([]);
  });

  it('an internal error → 500 {"message":"500 Internal Server Error"}, recorded as unexpected — lib/api/api.rb rescue_from :all', async () => {
    const s = sim();
    const app = buildSimApp(s.context, {
      register: (a) =>
        a.get('/api/v4/boom', () => {
          throw new Error('boom');
        }),
    });
    const stderr = process.stderr.write;
    process.stderr.write = () => true;
    try {
      const res = await app.inject({ method: 'GET', url: '/api/v4/boom' });
      expect(res.statusCode).toBe(500);
      expect(res.json()).toEqual({ message: '500 Internal Server Error' });
    } finally {
      process.stderr.write = stderr;
      await app.close();
    }
    expect(s.unexpected).toHaveLength(1);
    expect(s.unexpected[0]!.reason).toMatch(/^internal error: Error: boom/);
    expect(() => s.assertNoUnexpected()).toThrow(/GET \/api\/v4\/boom: internal error/);
    s.clearUnexpected();
  });
});

describe('non-strict mode', () => {
  const sim = useSimulator({ strict: false });

  it('an unimplemented API endpoint → GitLab’s 404 {"error":"404 Not Found"} and nothing unexpected — lib/api/api.rb', async () => {
    const s = sim();
    const res = await get(s, '/projects/1/pipelines');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: '404 Not Found' });
    expect(s.unexpected).toEqual([]);
    expect(() => s.assertNoUnexpected()).not.toThrow();
    expect(s.requests({ path: '/api/v4/projects/1/pipelines' })).toMatchObject([{ status: 404 }]);
  });

  it('an unknown web page → 404 HTML — config/routes.rb (Rails routing error page)', async () => {
    const s = sim();
    const res = await get(s, '/-/nope/page');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(s.unexpected).toEqual([]);
  });

  it('API v3 → 410 in either mode — lib/api/api.rb', async () => {
    const res = await fetch(`${sim().url}/api/v3/user`);
    expect(res.status).toBe(410);
    expect(await res.json()).toEqual({ error: 'API V3 is no longer supported. Use API V4 instead.' });
  });
});
