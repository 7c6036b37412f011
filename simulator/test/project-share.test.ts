import { describe, expect, it } from 'vitest';
import type { Simulator } from '../src/index.js';
import { del, get, post, useSimulator } from './helpers.js';

/** A project in `research`, a `partner` group with a Developer, and a project Maintainer who belongs to `partner`. */
function scene(s: Simulator) {
  const research = s.givenGroup({ path: 'research', name: 'Research' });
  const project = s.givenProject({ path: 'analysis', namespace: research });
  const partner = s.givenGroup({ path: 'partner', name: 'Partner' });
  const maintainer = s.givenUser({ username: 'maria' });
  s.givenMember(project, maintainer, 40);
  s.givenMember(partner, maintainer, 10);
  const pat = s.givenUser({ username: 'pat' });
  s.givenMember(partner, pat, 30);
  return { research, project, partner, maintainer, pat, token: s.givenToken(maintainer) };
}

describe('POST /projects/:id/share (lib/api/projects.rb, app/services/projects/group_links/create_service.rb)', () => {
  const sim = useSimulator();

  it('shares the project: 201 ProjectGroupLink, and the group’s members gain capped access — lib/api/entities/project_group_link.rb', async () => {
    const s = sim();
    const { project, partner, pat, token } = scene(s);
    const res = await post(
      s,
      `/projects/${project.id}/share`,
      { group_id: partner.id, group_access: 20, expires_at: '2099-01-01' },
      { token },
    );
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(Number),
      project_id: project.id,
      group_id: partner.id,
      group_access: 20,
      expires_at: '2099-01-01',
    });
    expect(s.store.projectAccess(project, pat.id)).toBe(20);
    const shown = await get(s, `/projects/${project.id}`, { token });
    expect(shown.body.shared_with_groups).toEqual([
      {
        group_id: partner.id,
        group_name: 'Partner',
        group_full_path: 'partner',
        group_access_level: 20,
        expires_at: '2099-01-01',
      },
    ]);
  });

  it('group_access is required and must be a known level → Grape 400 — lib/api/projects.rb params', async () => {
    const s = sim();
    const { project, partner, token } = scene(s);
    const missing = await post(s, `/projects/${project.id}/share`, { group_id: partner.id }, { token });
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual({ error: 'group_access is missing' });
    const bad = await post(
      s,
      `/projects/${project.id}/share`,
      { group_id: partner.id, group_access: 25 },
      { token },
    );
    expect(bad.body).toEqual({ error: 'group_access does not have a valid value' });
  });

  it('a Developer of the project cannot share it → 403 — authorize! :admin_project', async () => {
    const s = sim();
    const { project, partner, pat } = scene(s);
    s.givenMember(project, pat, 30);
    const res = await post(
      s,
      `/projects/${project.id}/share`,
      { group_id: partner.id, group_access: 20 },
      { token: s.givenToken(pat) },
    );
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ message: '403 Forbidden' });
  });

  it('an unknown group, or one the caller is no member of → 404 {"message":"Not Found"} — app/services/concerns/group_linkable.rb', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const stranger = s.givenGroup({ path: 'stranger', visibility: 'public' });
    for (const groupId of [9999, stranger.id]) {
      const res = await post(
        s,
        `/projects/${project.id}/share`,
        { group_id: groupId, group_access: 20 },
        { token },
      );
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ message: 'Not Found' });
    }
  });

  it('sharing twice with the same group → 409 "Group already shared with this group" — app/models/project_group_link.rb', async () => {
    const s = sim();
    const { project, partner, token } = scene(s);
    const body = { group_id: partner.id, group_access: 20 };
    expect((await post(s, `/projects/${project.id}/share`, body, { token })).status).toBe(201);
    const again = await post(s, `/projects/${project.id}/share`, body, { token });
    expect(again.status).toBe(409);
    expect(again.body).toEqual({ message: 'Group already shared with this group' });
  });

  it('sharing with the project’s own group or an ancestor → 409 — app/models/project_group_link.rb different_group', async () => {
    const s = sim();
    const top = s.givenGroup({ path: 'top' });
    const sub = s.givenGroup({ path: 'sub', parent: top });
    const project = s.givenProject({ path: 'p', namespace: sub });
    const own = await post(s, `/projects/${project.id}/share`, { group_id: sub.id, group_access: 20 });
    expect(own.status).toBe(409);
    expect(own.body).toEqual({ message: 'Project cannot be shared with the group it is in.' });
    const ancestor = await post(s, `/projects/${project.id}/share`, { group_id: top.id, group_access: 20 });
    expect(ancestor.body).toEqual({
      message: 'Project cannot be shared with the group it is in or one of its ancestors.',
    });
  });

  it('a Maintainer cannot share with Owner access → 403 {"message":"403 Forbidden"} — create_service.rb', async () => {
    const s = sim();
    const { project, partner, token } = scene(s);
    const res = await post(
      s,
      `/projects/${project.id}/share`,
      { group_id: partner.id, group_access: 50 },
      { token },
    );
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ message: '403 Forbidden' });
    expect(project.sharedWithGroups).toEqual([]);
  });

  it('an invisible project → 404 Project Not Found — lib/api/helpers.rb find_project!', async () => {
    const s = sim();
    const { project, partner, pat } = scene(s);
    const res = await post(
      s,
      `/projects/${project.id}/share`,
      { group_id: partner.id, group_access: 20 },
      { token: s.givenToken(pat) },
    );
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ message: '404 Project Not Found' });
  });
});

describe('DELETE /projects/:id/share/:group_id (lib/api/projects.rb, app/services/projects/group_links/destroy_service.rb)', () => {
  const sim = useSimulator();

  it('removes the share → 204 and the access it gave — destroy_conditionally!', async () => {
    const s = sim();
    const { project, partner, pat, token } = scene(s);
    s.givenProjectShare(project, partner, 30);
    expect(s.store.projectAccess(project, pat.id)).toBe(30);
    const res = await del(s, `/projects/${project.id}/share/${partner.id}`, { token });
    expect(res.status).toBe(204);
    expect(s.store.projectAccess(project, pat.id)).toBe(0);
  });

  it('no such share → 404 "Group Link Not Found" — lib/api/projects.rb not_found!', async () => {
    const s = sim();
    const { project, partner, token } = scene(s);
    const res = await del(s, `/projects/${project.id}/share/${partner.id}`, { token });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ message: '404 Group Link Not Found' });
  });

  it('a Developer cannot remove a share → 403 — authorize! :admin_project', async () => {
    const s = sim();
    const { project, partner, pat } = scene(s);
    s.givenMember(project, pat, 30);
    s.givenProjectShare(project, partner, 30);
    const res = await del(s, `/projects/${project.id}/share/${partner.id}`, { token: s.givenToken(pat) });
    expect(res.status).toBe(403);
    expect(project.sharedWithGroups).toHaveLength(1);
  });
});
