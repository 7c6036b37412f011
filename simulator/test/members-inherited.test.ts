import { describe, expect, it } from 'vitest';
import type { Simulator } from '../src/index.js';
import { del, get, post, put, useSimulator } from './helpers.js';

const levels = (body: { username: string; access_level: number }[]) =>
  body.map((m) => `${m.username}:${m.access_level}`);

/** research (group) → research/analysis (subgroup) → research/analysis/pipeline (project). */
function tree(s: Simulator) {
  const top = s.givenGroup({ path: 'research', name: 'Research' });
  const sub = s.givenGroup({ path: 'analysis', name: 'Analysis', parent: top });
  const project = s.givenProject({ path: 'pipeline', name: 'Pipeline', namespace: sub });
  return { top, sub, project };
}

describe('inherited and shared membership (app/finders/members_finder.rb, app/finders/group_members_finder.rb)', () => {
  const sim = useSimulator();

  it('GET …/members/all adds members of every ancestor group; …/members stays direct — lib/api/members.rb', async () => {
    const s = sim();
    const { top, sub, project } = tree(s);
    const ann = s.givenUser({ username: 'ann' });
    const ben = s.givenUser({ username: 'ben' });
    const cid = s.givenUser({ username: 'cid' });
    s.givenMember(top, ann, 50);
    s.givenMember(sub, ben, 30);
    s.givenMember(project, cid, 20);
    const direct = await get(s, `/projects/${project.id}/members`);
    expect(levels(direct.body)).toEqual(['cid:20']);
    const all = await get(s, `/projects/${project.id}/members/all`);
    expect(all.status).toBe(200);
    expect(levels(all.body).sort()).toEqual(['ann:50', 'ben:30', 'cid:20']);
  });

  it('one row per user, the highest access wins — members_finder.rb (DISTINCT ON user_id, access_level DESC)', async () => {
    const s = sim();
    const { top, project } = tree(s);
    const ann = s.givenUser({ username: 'ann' });
    s.givenMember(top, ann, 40);
    s.givenMember(project, ann, 40);
    const dora = s.givenUser({ username: 'dora' });
    s.givenMember(project, dora, 30);
    s.givenMember(top, dora, 50);
    const all = await get(s, `/projects/${project.id}/members/all`);
    expect(levels(all.body).sort()).toEqual(['ann:40', 'dora:50']);
  });

  it('…/members/all/:user_id returns the highest membership; none → 404 "Not found" — lib/api/members.rb', async () => {
    const s = sim();
    const { top, sub, project } = tree(s);
    const ann = s.givenUser({ username: 'ann' });
    s.givenMember(sub, ann, 30);
    s.givenMember(top, ann, 40);
    const one = await get(s, `/projects/${project.id}/members/all/${ann.id}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ username: 'ann', access_level: 40 });
    expect((await get(s, `/projects/${project.id}/members/${ann.id}`)).status).toBe(404);
    const none = await get(s, `/projects/${project.id}/members/all/1`);
    expect(none.status).toBe(404);
    expect(none.body).toEqual({ message: '404 Not found' });
  });

  it('group …/members/all includes ancestor members — lib/api/helpers/members_helpers.rb find_all_members_for_group', async () => {
    const s = sim();
    const { top, sub } = tree(s);
    const ann = s.givenUser({ username: 'ann' });
    const ben = s.givenUser({ username: 'ben' });
    s.givenMember(top, ann, 50);
    s.givenMember(sub, ben, 10);
    const res = await get(s, '/groups/research%2Fanalysis/members/all');
    expect(levels(res.body).sort()).toEqual(['ann:50', 'ben:10']);
    expect(levels((await get(s, `/groups/${sub.id}/members`)).body)).toEqual(['ben:10']);
  });

  it('members of a group the project is shared with appear, capped at the share level — members_finder.rb invited_groups', async () => {
    const s = sim();
    const { project } = tree(s);
    const partner = s.givenGroup({ path: 'partner' });
    const pat = s.givenUser({ username: 'pat' });
    const rex = s.givenUser({ username: 'rex' });
    s.givenMember(partner, pat, 50);
    s.givenMember(partner, rex, 20);
    s.givenProjectShare(project, partner, 30);
    const all = await get(s, `/projects/${project.id}/members/all`);
    expect(levels(all.body).sort()).toEqual(['pat:30', 'rex:20']);
  });

  it('query filters …/members/all — lib/api/helpers/members_helpers.rb retrieve_members', async () => {
    const s = sim();
    const { top, project } = tree(s);
    s.givenMember(top, s.givenUser({ username: 'ann', name: 'Ann Archer' }), 30);
    s.givenMember(top, s.givenUser({ username: 'ben', name: 'Ben Baker' }), 30);
    const res = await get(s, `/projects/${project.id}/members/all`, { query: { query: 'arch' } });
    expect(levels(res.body)).toEqual(['ann:30']);
  });

  it('a Maintainer through a parent group can add project members — app/policies/project_policy.rb admin_project_member', async () => {
    const s = sim();
    const { top, project } = tree(s);
    const lead = s.givenUser({ username: 'lead' });
    s.givenMember(top, lead, 40);
    const bob = s.givenUser({ username: 'bob' });
    const res = await post(
      s,
      '/projects/research%2Fanalysis%2Fpipeline/members',
      { user_id: bob.id, access_level: 30 },
      { token: s.givenToken(lead) },
    );
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ username: 'bob', access_level: 30, created_by: { username: 'lead' } });
    expect(s.store.directMember({ type: 'Project', id: project.id }, bob.id)?.accessLevel).toBe(30);
  });

  it('an Owner through a parent group can add subgroup members — app/policies/group_policy.rb', async () => {
    const s = sim();
    const { top, sub } = tree(s);
    const boss = s.givenUser({ username: 'boss' });
    s.givenMember(top, boss, 50);
    const bob = s.givenUser({ username: 'bob' });
    const res = await post(
      s,
      `/groups/${sub.id}/members`,
      { user_id: bob.id, access_level: 20 },
      { token: s.givenToken(boss) },
    );
    expect(res.status).toBe(201);
  });

  it('a project role below the inherited one → 400 "should be greater than or equal to …" — app/models/member.rb higher_access_level_than_group', async () => {
    const s = sim();
    const { sub, project } = tree(s);
    const bob = s.givenUser({ username: 'bob' });
    s.givenMember(sub, bob, 30);
    const res = await post(s, `/projects/${project.id}/members`, { user_id: bob.id, access_level: 20 });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      message: {
        access_level: [
          'should be greater than or equal to Developer inherited membership from group Analysis',
        ],
      },
    });
  });

  it('the same rule holds for subgroup members and for updates — app/models/member.rb', async () => {
    const s = sim();
    const { top, sub } = tree(s);
    const bob = s.givenUser({ username: 'bob' });
    s.givenMember(top, bob, 40);
    const add = await post(s, `/groups/${sub.id}/members`, { user_id: bob.id, access_level: 30 });
    expect(add.body).toEqual({
      message: {
        access_level: [
          'should be greater than or equal to Maintainer inherited membership from group Research',
        ],
      },
    });
    s.givenMember(sub, bob, 40);
    const lower = await put(s, `/groups/${sub.id}/members/${bob.id}`, { access_level: 20 });
    expect(lower.status).toBe(400);
    expect(lower.body.message.access_level[0]).toContain(
      'Maintainer inherited membership from group Research',
    );
  });

  it('an inherited member is not a direct member of the project: DELETE → 404 — lib/api/members.rb source_members', async () => {
    const s = sim();
    const { top, project } = tree(s);
    const ann = s.givenUser({ username: 'ann' });
    s.givenMember(top, ann, 30);
    const res = await del(s, `/projects/${project.id}/members/${ann.id}`);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ message: '404 Not found' });
    expect(s.store.projectAccess(project, ann.id)).toBe(30);
  });

  it('a share grants read access to a private project; an expired share does not — app/models/project_group_link.rb', async () => {
    const s = sim();
    s.clock.freeze(new Date('2026-03-01T10:00:00Z'));
    const { project } = tree(s);
    const partner = s.givenGroup({ path: 'partner' });
    const pat = s.givenUser({ username: 'pat' });
    s.givenMember(partner, pat, 30);
    const token = s.givenToken(pat, ['api'], null);
    s.givenProjectShare(project, partner, 20, '2026-03-05');
    const res = await get(s, `/projects/${project.id}`, { token });
    expect(res.status).toBe(200);
    expect(res.body.permissions).toEqual({ project_access: null, group_access: null });
    expect(s.store.projectAccess(project, pat.id)).toBe(20);
    s.clock.freeze(new Date('2026-03-05T00:00:01Z'));
    expect((await get(s, `/projects/${project.id}`, { token })).status).toBe(404);
  });
});
