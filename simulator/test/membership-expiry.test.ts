import { describe, expect, it } from 'vitest';
import type { Simulator } from '../src/index.js';
import { get, post, put, useSimulator } from './helpers.js';

/** Simulated time starts on 2026-03-01 for every test. */
function scene(s: Simulator) {
  s.clock.freeze(new Date('2026-03-01T09:00:00Z'));
  const group = s.givenGroup({ path: 'research', name: 'Research' });
  const project = s.givenProject({ path: 'analysis', name: 'Analysis', namespace: group });
  const bob = s.givenUser({ username: 'bob' });
  return { group, project, bob };
}

describe('membership expiry (app/workers/members/expiring_worker.rb, app/workers/remove_expired_members_worker.rb)', () => {
  const sim = useSimulator();

  it('a membership expiring within 7 days gets one reminder — Members::ExpiringWorker, member_about_to_expire_email', async () => {
    const s = sim();
    const { project, bob } = scene(s);
    s.givenMember(project, bob, 30, '2026-03-06');
    s.runJobs();
    const mails = s.mails({ to: 'bob@example.com', kind: 'member_about_to_expire' });
    expect(mails).toHaveLength(1);
    expect(mails[0]!.subject).toBe('Your membership will expire in 5 days');
    expect(mails[0]!.text).toContain('Research / Analysis project will expire in 5 days, on 2026-03-06');
    s.advanceDays(1);
    s.runJobs();
    expect(s.mails({ kind: 'member_about_to_expire' })).toHaveLength(1);
  });

  it('no reminder before the 7-day window opens, one once it does — Member::DAYS_TO_EXPIRE', async () => {
    const s = sim();
    const { group, bob } = scene(s);
    s.givenMember(group, bob, 30, '2026-03-11');
    s.runJobs();
    expect(s.mails({ kind: 'member_about_to_expire' })).toEqual([]);
    s.advanceDays(3);
    const [mail] = s.mails({ kind: 'member_about_to_expire' });
    expect(mail?.subject).toBe('Your membership will expire in 7 days');
  });

  it('on the expiry date the membership is removed and the access is gone — RemoveExpiredMembersWorker', async () => {
    const s = sim();
    const { project, bob } = scene(s);
    s.givenMember(project, bob, 30, '2026-03-03');
    const token = s.givenToken(bob, ['api'], null);
    expect((await get(s, `/projects/${project.id}`, { token })).status).toBe(200);
    s.advanceDays(2);
    expect(s.store.directMember({ type: 'Project', id: project.id }, bob.id)).toBeUndefined();
    expect((await get(s, `/projects/${project.id}`, { token })).status).toBe(404);
    expect((await get(s, `/projects/${project.id}/members/${bob.id}`)).body).toEqual({
      message: '404 Not found',
    });
  });

  it('an expiring project share is removed too — RemoveExpiredGroupLinksWorker', async () => {
    const s = sim();
    const { project, bob } = scene(s);
    const partner = s.givenGroup({ path: 'partner' });
    s.givenMember(partner, bob, 30);
    s.givenProjectShare(project, partner, 30, '2026-03-02');
    expect(s.store.projectAccess(project, bob.id)).toBe(30);
    s.advanceDays(1);
    expect(project.sharedWithGroups).toEqual([]);
    expect(s.store.projectAccess(project, bob.id)).toBe(0);
  });

  it('an expiring pending invitation is removed without a reminder — RemoveExpiredMembersWorker', async () => {
    const s = sim();
    const { project } = scene(s);
    await post(s, `/projects/${project.id}/invitations`, {
      email: 'guest@partner.example',
      access_level: 10,
      expires_at: '2026-03-04',
    });
    s.advanceDays(1);
    expect(s.mails({ kind: 'member_about_to_expire' })).toEqual([]);
    s.advanceDays(2);
    expect(
      s.store.findInvitation({ type: 'Project', id: project.id }, 'guest@partner.example'),
    ).toBeUndefined();
  });

  it('blocked members get no reminder — Members::ExpiringEmailNotificationWorker valid_for_notification?', async () => {
    const s = sim();
    const { project } = scene(s);
    const blocked = s.givenUser({ username: 'blocked', state: 'blocked' });
    s.givenMember(project, blocked, 30, '2026-03-05');
    s.runJobs();
    expect(s.mails({ kind: 'member_about_to_expire' })).toEqual([]);
  });

  it('a new expiry date earns a new reminder — app/services/members/update_service.rb', async () => {
    const s = sim();
    const { project, bob } = scene(s);
    s.givenMember(project, bob, 30, '2026-03-05');
    s.runJobs();
    const res = await put(s, `/projects/${project.id}/members/${bob.id}`, {
      access_level: 30,
      expires_at: '2026-03-07',
    });
    expect(res.status).toBe(200);
    s.runJobs();
    expect(s.mails({ kind: 'member_about_to_expire' }).map((m) => m.subject)).toEqual([
      'Your membership will expire in 4 days',
      'Your membership will expire in 6 days',
    ]);
  });

  it('membership mails escape HTML in names — app/views/notify/member_access_granted_email.html.haml', async () => {
    const s = sim();
    s.clock.freeze(new Date('2026-03-01T09:00:00Z'));
    const group = s.givenGroup({ path: 'evil', name: 'Evil <script>alert(1)</script>' });
    const bob = s.givenUser({ username: 'bob' });
    s.givenMember(group, bob, 30, '2026-03-04');
    s.runJobs();
    const [mail] = s.mails({ kind: 'member_about_to_expire' });
    expect(mail!.html).toContain('Evil &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(mail!.html).not.toContain('<script>');
  });
});
