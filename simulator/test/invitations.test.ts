import { describe, expect, it } from 'vitest';
import { acceptPendingInvitations } from '../src/api/invitations.js';
import type { Simulator } from '../src/index.js';
import { del, get, post, put, useSimulator } from './helpers.js';

function scene(s: Simulator) {
  const group = s.givenGroup({ path: 'research', name: 'Research' });
  const project = s.givenProject({ path: 'analysis', name: 'Analysis', namespace: group });
  const maintainer = s.givenUser({ username: 'maria', name: 'Maria' });
  s.givenMember(project, maintainer, 40);
  return { group, project, maintainer, token: s.givenToken(maintainer) };
}

describe('POST …/invitations (lib/api/invitations.rb, app/services/members/invite_service.rb)', () => {
  const sim = useSimulator();

  it('invites an unknown address: 201 {"status":"success"}, a pending invitation and the invitation mail — app/mailers/emails/members.rb', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const res = await post(
      s,
      `/projects/${project.id}/invitations`,
      { email: 'new@partner.example', access_level: 30 },
      { token },
    );
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ status: 'success' });
    const invite = s.store.findInvitation({ type: 'Project', id: project.id }, 'new@partner.example')!;
    expect(invite).toMatchObject({ userId: null, accessLevel: 30, inviteEmail: 'new@partner.example' });
    const [mail] = s.mails({ to: 'new@partner.example' });
    expect(mail).toMatchObject({ kind: 'member_invited', subject: 'Maria invited you to join GitLab' });
    expect(mail!.text).toContain('to join the Research / Analysis project as Developer');
    expect(mail!.text).toMatch(new RegExp(`${s.url}/-/invites/[A-Za-z0-9_-]{20}`));
  });

  it('an address of an existing account adds that user directly, with the access-granted mail — Members::InviteMemberBuilder', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const bob = s.givenUser({ username: 'bob', email: 'bob@corp.example' });
    const res = await post(
      s,
      `/projects/${project.id}/invitations`,
      { email: 'BOB@corp.example', access_level: 20 },
      { token },
    );
    expect(res.body).toEqual({ status: 'success' });
    expect(s.store.directMember({ type: 'Project', id: project.id }, bob.id)?.accessLevel).toBe(20);
    expect(s.store.findInvitation({ type: 'Project', id: project.id }, 'bob@corp.example')).toBeUndefined();
    expect(s.mails({ to: 'bob@corp.example', kind: 'member_access_granted' })).toHaveLength(1);
  });

  it('inviting an existing member updates the membership instead of failing — app/services/members/creator_service.rb', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const bob = s.givenUser({ username: 'bob' });
    s.givenMember(project, bob, 20);
    const res = await post(
      s,
      `/projects/${project.id}/invitations`,
      { user_id: String(bob.id), access_level: 30 },
      { token },
    );
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ status: 'success' });
    expect(s.store.directMember({ type: 'Project', id: project.id }, bob.id)?.accessLevel).toBe(30);
  });

  it('re-inviting a pending address updates the invitation — Members::InviteMemberBuilder (find_or_initialize_by invite_email)', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const path = `/projects/${project.id}/invitations`;
    await post(s, path, { email: 'new@partner.example', access_level: 20 }, { token });
    const again = await post(s, path, { email: 'new@partner.example', access_level: 30 }, { token });
    expect(again.body).toEqual({ status: 'success' });
    const list = await get(s, path, { token });
    expect(list.body).toHaveLength(1);
    expect(list.body[0].access_level).toBe(30);
    expect(s.mails({ to: 'new@partner.example' })).toHaveLength(1);
  });

  it('errors still answer 201, keyed by address or username — app/services/base_service.rb error()', async () => {
    const s = sim();
    s.clock.freeze(new Date('2026-03-01T10:00:00Z'));
    const { group, project, token } = scene(s);
    const bob = s.givenUser({ username: 'bob' });
    s.givenMember(group, bob, 40);
    const res = await post(
      s,
      `/projects/${project.id}/invitations`,
      { email: 'late@partner.example', user_id: String(bob.id), access_level: 30, expires_at: '2026-02-01' },
      { token },
    );
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      message: {
        'late@partner.example': 'Expires at cannot be a date in the past',
        bob: 'Expires at cannot be a date in the past and Access level should be greater than or equal to Maintainer inherited membership from group Research',
      },
      status: 'error',
    });
    expect(
      s.store.findInvitation({ type: 'Project', id: project.id }, 'late@partner.example'),
    ).toBeUndefined();
  });

  it('access_level is required and must be a known level → Grape 400 — lib/api/invitations.rb params', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const path = `/projects/${project.id}/invitations`;
    expect((await post(s, path, { email: 'a@b.example' }, { token })).body).toEqual({
      error: 'access_level is missing',
    });
    const bad = await post(s, path, { email: 'a@b.example', access_level: 35 }, { token });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: 'access_level does not have a valid value' });
  });

  it('a malformed address → 400 "email contains an invalid email address" — lib/api/validations/validators/email_or_email_list.rb', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const res = await post(
      s,
      `/projects/${project.id}/invitations`,
      { email: 'ok@example.org,not-an-email', access_level: 30 },
      { token },
    );
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'email contains an invalid email address' });
  });

  it('neither email nor user_id → 400 "Must provide either email or user_id" — lib/api/invitations.rb', async () => {
    const s = sim();
    const { project, token } = scene(s);
    for (const body of [
      { access_level: 30 },
      { access_level: 30, email: '' },
      { access_level: 30, user_id: '' },
    ]) {
      const res = await post(s, `/projects/${project.id}/invitations`, body, { token });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        message: '400 Bad request - Must provide either email or user_id as a parameter',
      });
    }
  });

  it('callers who may not manage members → 403; group Maintainers included — app/policies/group_policy.rb admin_group_member', async () => {
    const s = sim();
    const { group, project } = scene(s);
    const dev = s.givenUser({ username: 'dev' });
    s.givenMember(project, dev, 30);
    const gm = s.givenUser({ username: 'gm' });
    s.givenMember(group, gm, 40);
    const body = { email: 'x@partner.example', access_level: 10 };
    const asDev = await post(s, `/projects/${project.id}/invitations`, body, { token: s.givenToken(dev) });
    expect(asDev.status).toBe(403);
    expect(asDev.body).toEqual({ message: '403 Forbidden' });
    expect((await post(s, `/groups/${group.id}/invitations`, body, { token: s.givenToken(gm) })).status).toBe(
      403,
    );
  });

  it('a project Maintainer cannot invite an Owner → 403 — app/services/members/create_service.rb', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const res = await post(
      s,
      `/projects/${project.id}/invitations`,
      { email: 'boss@partner.example', access_level: 50 },
      { token },
    );
    expect(res.status).toBe(403);
  });

  it('more than 100 invitees → 201 {"status":"error","message":"Too many users specified (limit is 100)"} — create_service.rb', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const emails = Array.from({ length: 101 }, (_, i) => `u${i}@partner.example`).join(',');
    const res = await post(
      s,
      `/projects/${project.id}/invitations`,
      { email: emails, access_level: 30 },
      { token },
    );
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ message: 'Too many users specified (limit is 100)', status: 'error' });
  });

  it('blank entries count as invitees but name nobody: 201 success, nothing added — invite_service.rb, creator_service.rb parse_users_list', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const res = await post(
      s,
      `/projects/${project.id}/invitations`,
      { user_id: ' , ', access_level: 30 },
      { token },
    );
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ status: 'success' });
    expect(s.store.directMembers({ type: 'Project', id: project.id })).toHaveLength(1);
  });
});

describe('GET/PUT/DELETE …/invitations (lib/api/invitations.rb)', () => {
  const sim = useSimulator();

  it('lists pending invitations as Invitation entities, query matching the address — lib/api/entities/invitation.rb', async () => {
    const s = sim();
    s.clock.freeze(new Date('2026-03-01T10:00:00Z'));
    const { group } = scene(s);
    await post(s, `/groups/${group.id}/invitations`, {
      email: 'a@partner.example,b@partner.example',
      access_level: 30,
      expires_at: '2026-04-01',
    });
    const res = await get(s, `/groups/${group.id}/invitations`, { query: { query: 'b@partner.example' } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual([
      {
        access_level: 30,
        created_at: '2026-03-01T10:00:00.000Z',
        expires_at: '2026-04-01',
        invite_email: 'b@partner.example',
        invite_token: expect.any(String),
        created_by_name: 'Administrator',
      },
    ]);
    expect((await get(s, `/groups/${group.id}/invitations`)).body).toHaveLength(2);
  });

  it('PUT updates a pending invitation — lib/api/invitations.rb', async () => {
    const s = sim();
    const { project, token } = scene(s);
    await post(
      s,
      `/projects/${project.id}/invitations`,
      { email: 'a@partner.example', access_level: 30 },
      { token },
    );
    const res = await put(
      s,
      `/projects/${project.id}/invitations/a@partner.example`,
      { access_level: 20, expires_at: '2099-01-01' },
      { token },
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      invite_email: 'a@partner.example',
      access_level: 20,
      expires_at: '2099-01-01',
    });
  });

  it('PUT with nothing to change → 400 "400 Bad request"; unknown address → 404 "404 Not Found" — lib/api/invitations.rb', async () => {
    const s = sim();
    const { project, token } = scene(s);
    await post(
      s,
      `/projects/${project.id}/invitations`,
      { email: 'a@partner.example', access_level: 30 },
      { token },
    );
    const empty = await put(s, `/projects/${project.id}/invitations/a@partner.example`, {}, { token });
    expect(empty.status).toBe(400);
    expect(empty.body).toEqual({ message: '400 Bad request' });
    const unknown = await put(
      s,
      `/projects/${project.id}/invitations/z@partner.example`,
      { access_level: 20 },
      { token },
    );
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ message: '404 Not Found' });
  });

  it('DELETE removes a pending invitation → 204; again → 404 — lib/api/invitations.rb', async () => {
    const s = sim();
    const { project, token } = scene(s);
    await post(
      s,
      `/projects/${project.id}/invitations`,
      { email: 'a@partner.example', access_level: 30 },
      { token },
    );
    const path = `/projects/${project.id}/invitations/a%40partner.example`;
    expect((await del(s, path, { token })).status).toBe(204);
    expect(s.store.findInvitation({ type: 'Project', id: project.id }, 'a@partner.example')).toBeUndefined();
    const again = await del(s, path, { token });
    expect(again.status).toBe(404);
    expect(again.body).toEqual({ message: '404 Not Found' });
  });
});

describe('accepting invitations (app/models/user.rb accept_pending_invitations!, app/models/member.rb accept_invite!)', () => {
  const sim = useSimulator();

  it('a confirmed account turns its pending invitations into memberships and tells the inviter', async () => {
    const s = sim();
    const { group, project, token } = scene(s);
    await post(
      s,
      `/projects/${project.id}/invitations`,
      { email: 'new@partner.example', access_level: 30 },
      { token },
    );
    await post(s, `/groups/${group.id}/invitations`, { email: 'new@partner.example', access_level: 10 });
    const user = s.givenUser({ username: 'newbie', email: 'new@partner.example' });
    const accepted = acceptPendingInvitations(s.store, user);
    expect(accepted).toHaveLength(2);
    expect(s.store.projectAccess(project, user.id)).toBe(30);
    expect(
      s.store.findInvitation({ type: 'Project', id: project.id }, 'new@partner.example'),
    ).toBeUndefined();
    expect(s.mails({ to: 'maria@example.com', kind: 'member_invite_accepted' })[0]!.subject).toBe(
      'Invitation accepted',
    );
    const members = await get(s, `/projects/${project.id}/members`, { token });
    expect(members.body.map((m: { username: string }) => m.username)).toEqual(['maria', 'newbie']);
  });

  it('an unconfirmed address accepts nothing', async () => {
    const s = sim();
    const { project, token } = scene(s);
    await post(
      s,
      `/projects/${project.id}/invitations`,
      { email: 'new@partner.example', access_level: 30 },
      { token },
    );
    const user = s.givenUser({ username: 'newbie', email: 'new@partner.example', confirmed: false });
    expect(acceptPendingInvitations(s.store, user)).toEqual([]);
    expect(s.store.projectAccess(project, user.id)).toBe(0);
  });
});
