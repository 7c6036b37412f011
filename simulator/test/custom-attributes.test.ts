import { describe, expect, it } from 'vitest';
import { del, get, put, useSimulator } from './helpers.js';

describe('user custom attributes (lib/api/custom_attributes_endpoints.rb)', () => {
  const sim = useSimulator();

  it('GET lists key/value entities in insertion order — Entities::CustomAttribute', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', custom_attributes: { sponsor: 'root', team: 'red' } });
    const res = await get(s, `/users/${alice.id}/custom_attributes`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual([
      { key: 'sponsor', value: 'root' },
      { key: 'team', value: 'red' },
    ]);
  });

  it('GET one key → the entity; a missing key → 404 "404 Not found" (RecordNotFound)', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', custom_attributes: { sponsor: 'root' } });
    expect((await get(s, `/users/${alice.id}/custom_attributes/sponsor`)).body).toEqual({
      key: 'sponsor',
      value: 'root',
    });
    const missing = await get(s, `/users/${alice.id}/custom_attributes/nope`);
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ message: '404 Not found' });
  });

  it('PUT creates then updates a value (200) and the /users filter follows — CustomAttributes::UpsertService', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const created = await put(s, `/users/${alice.id}/custom_attributes/team`, { value: 'red' });
    expect(created.status).toBe(200);
    expect(created.body).toEqual({ key: 'team', value: 'red' });
    await put(s, `/users/${alice.id}/custom_attributes/team`, { value: 'blue' });
    const red = await get(s, '/users', { query: { 'custom_attributes[team]': 'red' } });
    expect(red.body).toEqual([]);
    const blue = await get(s, '/users', { query: { 'custom_attributes[team]': 'blue' } });
    expect(blue.body.map((u: { username: string }) => u.username)).toEqual(['alice']);
  });

  it('PUT without value → 400 {"error":"value is missing"} — Grape requires', async () => {
    const res = await put(sim(), '/users/1/custom_attributes/team', {});
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'value is missing' });
  });

  it('PUT with a blank value → 400 with the model’s full messages — UserCustomAttribute presence', async () => {
    const res = await put(sim(), '/users/1/custom_attributes/team', { value: ' ' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ message: ["Value can't be blank"] });
  });

  it('DELETE → 204 and the index forgets it; a missing key → 404 "404 Custom attribute Not Found"', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', custom_attributes: { team: 'red' } });
    const res = await del(s, `/users/${alice.id}/custom_attributes/team`);
    expect(res.status).toBe(204);
    expect(s.store.usersWithCustomAttribute('team', 'red').size).toBe(0);
    const again = await del(s, `/users/${alice.id}/custom_attributes/team`);
    expect(again.status).toBe(404);
    expect(again.body).toEqual({ message: '404 Custom attribute Not Found' });
  });

  it('an unknown user → 404 "404 Not Found", looked up before the permission check — find_resource', async () => {
    const s = sim();
    const token = s.givenToken(s.givenUser({ username: 'alice' }));
    const res = await get(s, '/users/999/custom_attributes', { token });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ message: '404 Not Found' });
  });

  it('non-admins → 403 "403 Forbidden" on read and write — authorize! :read_custom_attribute', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const token = s.givenToken(alice);
    expect((await get(s, `/users/${alice.id}/custom_attributes`, { token })).body).toEqual({
      message: '403 Forbidden',
    });
    const write = await put(s, `/users/${alice.id}/custom_attributes/team`, { value: 'x' }, { token });
    expect(write.status).toBe(403);
    expect(alice.customAttributes.size).toBe(0);
  });

  it('anonymous reads → 403 (authorize!), anonymous writes → 401 (authenticate_non_get!)', async () => {
    const s = sim();
    expect((await get(s, '/users/1/custom_attributes', { token: null })).status).toBe(403);
    expect((await put(s, '/users/1/custom_attributes/team', { value: 'x' }, { token: null })).status).toBe(
      401,
    );
  });

  it('a non-numeric user id is an unmatched route → {"error":"404 Not Found"} — resource requirements', async () => {
    const res = await get(sim(), '/users/root/custom_attributes');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: '404 Not Found' });
  });

  it('a trailing .json is the response format, not part of the key — Grape path formats', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', custom_attributes: { team: 'red' } });
    const res = await get(s, `/users/${alice.id}/custom_attributes/team.json`);
    expect(res.body).toEqual({ key: 'team', value: 'red' });
  });
});
