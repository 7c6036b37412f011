/** The signed-in sponsor as routes see it (never the tokens). */
export interface AuthenticatedSession {
  /** SHA-256 of the session cookie's token: the session row's key. */
  idHash: string;
  userId: number;
  username: string;
  name: string;
  csrfToken: string;
  createdAt: string;
  expiresAt: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the session hook for requests carrying a valid session cookie; null otherwise. */
    auth: AuthenticatedSession | null;
  }
}
