import type { Seed } from '@gitlab-extern/simulator';

/** A demo sign-in: who they are in the story and what the portal does with them. */
export interface DemoAccount {
  username: string;
  password: string;
  role: string;
}

/**
 * The small organisation demo mode seeds into the simulator: an admin, two internal researchers,
 * an existing external collaborator and a blocked account — enough to walk through sponsoring,
 * refusals and existing-account handling.
 */
export const DEMO_ACCOUNTS: DemoAccount[] = [
  { username: 'root', password: 'demo-root-pass', role: 'GitLab administrator' },
  {
    username: 'alice',
    password: 'demo-alice-pass',
    role: 'internal; Owner of group research, Maintainer of research/analysis — can sponsor',
  },
  { username: 'bob', password: 'demo-bob-pass', role: 'internal; Developer in research — can sponsor' },
  { username: 'eve', password: 'demo-eve-pass', role: 'existing external user — refused at sign-in' },
  { username: 'mallory', password: 'demo-mallory-pass', role: 'blocked in GitLab — refused at sign-in' },
];

const password = (username: string) => DEMO_ACCOUNTS.find((a) => a.username === username)!.password;

export function demoSeed(): Seed {
  return {
    users: [
      {
        username: 'alice',
        name: 'Alice Martin',
        email: 'alice@research.example',
        password: password('alice'),
        organization: 'Example University',
      },
      {
        username: 'bob',
        name: 'Bob Nakamura',
        email: 'bob@research.example',
        password: password('bob'),
        organization: 'Example University',
      },
      {
        username: 'eve',
        name: 'Eve Lindqvist',
        email: 'eve@partner.example',
        password: password('eve'),
        external: true,
        organization: 'Partner Institute',
        note: 'Sponsored by @alice (Alice Martin) for the joint analysis project.',
        custom_attributes: {
          extern_sponsor_id: '2',
          extern_sponsor_username: 'alice',
          extern_organisation: 'Partner Institute',
        },
      },
      {
        username: 'mallory',
        name: 'Mallory Quinn',
        email: 'mallory@research.example',
        password: password('mallory'),
        state: 'blocked',
      },
    ],
    groups: [
      {
        path: 'research',
        name: 'Research',
        description: 'Research group',
        members: [
          { user: 'alice', access_level: 50 },
          { user: 'bob', access_level: 30 },
        ],
      },
      { path: 'teaching', name: 'Teaching', members: [{ user: 'bob', access_level: 40 }] },
    ],
    projects: [
      {
        path: 'analysis',
        namespace: 'research',
        name: 'Analysis',
        description: 'Shared analysis code',
        members: [
          { user: 'alice', access_level: 40 },
          { user: 'eve', access_level: 30, expires_at: null },
        ],
      },
      { path: 'website', namespace: 'research', name: 'Website' },
      { path: 'course-2026', namespace: 'teaching', name: 'Course 2026' },
    ],
  };
}
