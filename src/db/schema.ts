import type { Generated, Insertable, Selectable } from 'kysely';

/*
 * Column conventions (see README.md): timestamps are ISO-8601 UTC text, GitLab ids are integers,
 * portal ids are UUID text, structured values are JSON text, encrypted values are TokenCipher strings.
 */

/** GitLab users who have signed in to the portal, keyed by their immutable GitLab id. */
export interface PortalUsersTable {
  gitlab_id: number;
  username: string;
  name: string;
  email: string | null;
  first_sign_in_at: string;
  last_sign_in_at: string;
}

export interface SessionsTable {
  /** HMAC-SHA-256 (hex, keyed by SESSION_SECRET) of the cookie token: a copy of the table yields no usable cookie. */
  id_hash: string;
  user_id: number;
  username: string;
  name: string;
  csrf_token: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  access_token_enc: string;
  refresh_token_enc: string | null;
  token_expires_at: string | null;
  /** Key that sealed the tokens; rows with an older key are re-encrypted on their next write. */
  key_id: string;
  ip: string | null;
  user_agent: string | null;
  /** When the sponsor's rights were last checked against GitLab; null: never since sign-in. */
  checked_at: string | null;
}

/** Pending sign-ins between the redirect to GitLab and the callback. */
export interface LoginStatesTable {
  /** HMAC-SHA-256 (hex, keyed by SESSION_SECRET) of the OAuth `state`. */
  id_hash: string;
  /** HMAC-SHA-256 (hex, keyed by SESSION_SECRET) of the pre-login cookie: the browser this sign-in belongs to. */
  browser_hash: string;
  nonce: string;
  code_verifier_enc: string;
  return_to: string;
  created_at: string;
  expires_at: string;
  ip: string | null;
}

export interface SponsorshipsTable {
  id: string;
  /** Null until GitLab has confirmed the user exists. */
  gitlab_user_id: number | null;
  username: string;
  /** Lower-cased; unique across all sponsorships. */
  email: string;
  name: string;
  organisation: string | null;
  reason: string;
  sponsor_id: number;
  sponsor_username: string;
  state: string;
  created_at: string;
  updated_at: string;
}

/** A multi-step change in GitLab, recorded before and after each step so it can resume after a crash. */
export interface OperationsTable {
  id: string;
  kind: string;
  sponsor_id: number;
  idempotency_key: string;
  /** SHA-256 of the canonical request: the same key with a different request is refused. */
  request_hash: string;
  payload: string;
  state: string;
  step: string | null;
  gitlab_user_id: number | null;
  result: string | null;
  error_code: string | null;
  error_message: string | null;
  attempts: Generated<number>;
  lease_owner: string | null;
  lease_until: string | null;
  created_at: string;
  updated_at: string;
}

/** Append-only (enforced by triggers) and hash-chained; `seq` is contiguous from 1. */
export interface AuditEventsTable {
  seq: number;
  id: string;
  at: string;
  request_id: string | null;
  actor_id: number | null;
  actor_username: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  target_name: string | null;
  outcome: string;
  reason: string | null;
  details: string | null;
  ip: string | null;
  prev_hash: string;
  hash: string;
}

/**
 * The single row (`id` = 1) holding the newest audit event's seq and hash. Appends lock and advance it
 * in their transaction, which serialises them; verification compares it with the last event, which
 * detects events removed from the end.
 */
export interface AuditChainHeadTable {
  id: number;
  last_seq: number;
  last_hash: string;
}

export interface Database {
  portal_users: PortalUsersTable;
  sessions: SessionsTable;
  login_states: LoginStatesTable;
  sponsorships: SponsorshipsTable;
  operations: OperationsTable;
  audit_events: AuditEventsTable;
  audit_chain_head: AuditChainHeadTable;
}

export type PortalUserRow = Selectable<PortalUsersTable>;
export type SessionRow = Selectable<SessionsTable>;
export type LoginStateRow = Selectable<LoginStatesTable>;
export type SponsorshipRow = Selectable<SponsorshipsTable>;
export type NewSponsorship = Insertable<SponsorshipsTable>;
export type OperationRow = Selectable<OperationsTable>;
export type NewOperation = Insertable<OperationsTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;
