/** User states from `app/models/user.rb` (state_machine). */
export type UserState =
  | 'active'
  | 'blocked'
  | 'ldap_blocked'
  | 'blocked_pending_approval'
  | 'banned'
  | 'deactivated';

/** `User#user_type`; only the values the simulator needs. */
export type UserType = 'human' | 'project_bot' | 'service_account' | 'ghost' | 'support_bot' | 'alert_bot';

export interface Identity {
  provider: string;
  externUid: string;
}

export interface SecondaryEmail {
  email: string;
  confirmedAt: number | null;
}

export interface User {
  id: number;
  username: string;
  name: string;
  email: string;
  state: UserState;
  userType: UserType;
  admin: boolean;
  external: boolean;
  locked: boolean;
  createdAt: number;
  updatedAt: number;
  confirmedAt: number | null;
  lastSignInAt: number | null;
  currentSignInAt: number | null;
  lastSignInIp: string | null;
  currentSignInIp: string | null;
  /** `YYYY-MM-DD` or null. */
  lastActivityOn: string | null;
  passwordHash: string | null;
  passwordAutomaticallySet: boolean;
  passwordExpiresAt: number | null;
  projectsLimit: number;
  canCreateGroup: boolean;
  privateProfile: boolean;
  note: string | null;
  bio: string;
  location: string;
  publicEmail: string | null;
  commitEmail: string | null;
  skype: string;
  linkedin: string;
  twitter: string;
  discord: string;
  websiteUrl: string;
  organization: string;
  jobTitle: string;
  pronouns: string | null;
  themeId: number;
  colorSchemeId: number;
  preferredLanguage: string;
  twoFactorEnabled: boolean;
  createdById: number | null;
  namespaceId: number;
  identities: Identity[];
  secondaryEmails: SecondaryEmail[];
  customAttributes: Map<string, string>;
  resetPasswordToken: string | null;
  resetPasswordSentAt: number | null;
  confirmationToken: string | null;
  /** Devise reconfirmable: a changed e-mail waits here until confirmed through `confirmationToken`. */
  unconfirmedEmail: string | null;
  emailResetOfferedAt: number | null;
  /** Set when DELETE /users/:id ran; the user disappears after the deletion delay. */
  deletionScheduledAt: number | null;
}

export type Visibility = 'private' | 'internal' | 'public';
export const VISIBILITIES: readonly Visibility[] = ['private', 'internal', 'public'];

export interface Group {
  kind: 'group';
  id: number;
  name: string;
  path: string;
  fullPath: string;
  fullName: string;
  description: string;
  visibility: Visibility;
  parentId: number | null;
  createdAt: number;
  requestAccessEnabled: boolean;
  customAttributes: Map<string, string>;
}

/** A user's personal namespace; shares the id sequence with groups as in GitLab's `namespaces` table. */
export interface UserNamespace {
  kind: 'user';
  id: number;
  ownerId: number;
  path: string;
}

export type Namespace = Group | UserNamespace;

export interface GroupLink {
  groupId: number;
  groupAccess: AccessLevel;
  expiresAt: string | null;
  createdAt: number;
}

export interface Project {
  id: number;
  name: string;
  path: string;
  description: string;
  namespaceId: number;
  visibility: Visibility;
  createdAt: number;
  lastActivityAt: number;
  defaultBranch: string | null;
  archived: boolean;
  topics: string[];
  sharedWithGroups: GroupLink[];
  customAttributes: Map<string, string>;
  creatorId: number;
}

/** `Gitlab::Access` levels (CE). 5 (minimal) exists for groups in EE only. */
export type AccessLevel = 0 | 5 | 10 | 15 | 20 | 30 | 40 | 50;
export const ACCESS_LEVELS = [10, 15, 20, 30, 40, 50] as const;
export const ACCESS = {
  noAccess: 0,
  minimal: 5,
  guest: 10,
  planner: 15,
  reporter: 20,
  developer: 30,
  maintainer: 40,
  owner: 50,
} as const;

export type SourceType = 'Project' | 'Namespace';

export interface SourceRef {
  type: SourceType;
  id: number;
}

export interface Member {
  source: SourceRef;
  userId: number | null;
  /** Pending e-mail invitation (no user yet). */
  inviteEmail: string | null;
  inviteToken: string | null;
  accessLevel: number;
  expiresAt: string | null;
  createdAt: number;
  updatedAt: number;
  createdById: number | null;
  /** Set once the "membership expires soon" mail went out. */
  expiryNotifiedAt: number | null;
}

export interface PersonalAccessToken {
  id: number;
  token: string;
  userId: number;
  name: string;
  description: string | null;
  scopes: string[];
  createdAt: number;
  lastUsedAt: number | null;
  /** `YYYY-MM-DD` (expires at the start of that day, UTC) or null. */
  expiresAt: string | null;
  revoked: boolean;
  impersonation: boolean;
}

export interface OAuthApplication {
  id: number;
  name: string;
  uid: string;
  secret: string;
  redirectUris: string[];
  scopes: string[];
  confidential: boolean;
  trusted: boolean;
  createdAt: number;
  ownerId: number | null;
}

export interface OAuthGrant {
  code: string;
  applicationId: number;
  userId: number;
  redirectUri: string;
  scopes: string[];
  createdAt: number;
  expiresIn: number;
  codeChallenge: string | null;
  codeChallengeMethod: 'plain' | 'S256' | null;
  nonce: string | null;
  revoked: boolean;
}

export interface OAuthAccessToken {
  id: number;
  token: string;
  refreshToken: string;
  applicationId: number | null;
  userId: number;
  scopes: string[];
  createdAt: number;
  /** seconds; null = never expires */
  expiresIn: number | null;
  revokedAt: number | null;
  /** doorkeeper "revoke on use" rotation: the refresh token this token was minted from. */
  previousRefreshToken: string | null;
}

export interface MailMessage {
  id: number;
  to: string;
  subject: string;
  text: string;
  html: string;
  /** What kind of mail GitLab sends, e.g. `new_user`, `reset_password`, `confirmation`, `member_access_granted`. */
  kind: string;
  /** The set-password link, when the mail carries one. */
  resetLink: string | null;
  confirmationLink: string | null;
  userId: number | null;
  sentAt: number;
}

export interface WebSession {
  id: string;
  userId: number;
  createdAt: number;
}
