import { describe, expect, it } from 'vitest';
import { approve, authorizePath, Browser, CALLBACK, form, PASSWORD, pkcePair, signedIn } from './browser.js';
import { useSimulator } from './helpers.js';

describe('GET /oauth/authorize (doorkeeper PreAuthorization, app/controllers/oauth/authorizations_controller.rb)', () => {
  const sim = useSimulator();

  async function setup(
    app: {
      redirectUri?: string | string[];
      scopes?: string[];
      confidential?: boolean;
      trusted?: boolean;
      name?: string;
    } = {},
  ) {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', name: 'Alice', password: PASSWORD });
    const client = s.givenApplication({
      name: app.name ?? 'Portal',
      redirectUri: app.redirectUri ?? CALLBACK,
      scopes: app.scopes ?? ['api', 'read_user', 'openid', 'profile', 'email'],
      confidential: app.confidential,
      trusted: app.trusted,
    });
    const browser = await signedIn(s, 'alice', PASSWORD);
    const params = (extra: Record<string, string | undefined> = {}) => ({
      client_id: client.applicationId,
      redirect_uri: CALLBACK,
      response_type: 'code',
      scope: 'openid read_user',
      state: 'xyz',
      ...extra,
    });
    return { s, alice, client, browser, params };
  }

  /** The error page: status 200 (rendered without a status), no redirect, the description in a <pre>. */
  async function expectErrorPage(browser: Browser, path: string, description: string) {
    const res = await browser.get(path);
    expect(res.status).toBe(200);
    expect(res.location).toBeNull();
    expect(res.text).toContain('An error has occurred');
    expect(res.text).toContain(`<pre>${description}</pre>`);
  }

  it('an anonymous visitor is redirected to /users/sign_in — doorkeeper.rb resource_owner_authenticator', async () => {
    const s = sim();
    const res = await new Browser(s).get('/oauth/authorize?client_id=x&response_type=code');
    expect(res.status).toBe(302);
    expect(res.location).toBe(`${s.url}/users/sign_in`);
  });

  it('the consent page names the application and the scopes, with Authorize and Cancel forms — doorkeeper/authorizations/new.html.haml', async () => {
    const { browser, params, client } = await setup();
    const res = await browser.get(authorizePath(params({ nonce: 'n-1', ...codeChallenge() })));
    expect(res.status).toBe(200);
    expect(res.text).toContain('<strong>Portal</strong> is requesting access to your account on GitLab.');
    expect(res.text).toContain('Authenticate using OpenID Connect');
    expect(res.text).toContain('Read the authenticated user&#39;s personal information');
    const authorize = form(res.text, 'Authorize Portal');
    expect(authorize.action).toBe('/oauth/authorize');
    expect(authorize.fields).toMatchObject({
      client_id: client.applicationId,
      redirect_uri: CALLBACK,
      state: 'xyz',
      response_type: 'code',
      scope: 'openid read_user',
      nonce: 'n-1',
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
    });
    const cancel = form(res.text, 'Cancel');
    expect(cancel.fields._method).toBe('delete');
  });

  it('user-provided text on the consent page is escaped — HAML auto-escaping', async () => {
    const { browser, params } = await setup({ name: '<img src=x onerror=alert(1)>' });
    const res = await browser.get(authorizePath(params()));
    expect(res.text).not.toContain('<img src=x');
    expect(res.text).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it('Authorize → 302 to the redirect URI with code and state; the grant keeps PKCE and nonce — doorkeeper code_response.rb', async () => {
    const { s, browser, params, alice } = await setup();
    const { res, location, code, state } = await approve(
      browser,
      params({ nonce: 'n-1', ...codeChallenge() }),
    );
    expect(res.status).toBe(302);
    expect(`${location.origin}${location.pathname}`).toBe(CALLBACK);
    expect([...location.searchParams.keys()]).toEqual(['code', 'state']);
    expect(code).toMatch(/^[0-9a-f]{64}$/);
    expect(state).toBe('xyz');
    expect(s.store.grants.get(code!)).toMatchObject({
      userId: alice.id,
      redirectUri: CALLBACK,
      scopes: ['openid', 'read_user'],
      expiresIn: 600,
      codeChallenge: pkcePair().challenge,
      codeChallengeMethod: 'S256',
      nonce: 'n-1',
      revoked: false,
    });
  });

  it('Cancel → 302 with error=access_denied, its description and the state — doorkeeper authorizations#destroy', async () => {
    const { browser, params } = await setup();
    const consent = await browser.get(authorizePath(params()));
    const res = await browser.submit(form(consent.text, 'Cancel'));
    expect(res.status).toBe(302);
    expect(res.location).toBe(
      `${CALLBACK}?error=access_denied&error_description=The+resource+owner+or+authorization+server+denied+the+request.&state=xyz`,
    );
  });

  it('code and state are added to a query the redirect URI already has — Authorization::URIBuilder.uri_with_query', async () => {
    const registered = 'https://portal.example.com/cb?tenant=a';
    const { browser, params } = await setup({ redirectUri: registered });
    const { location } = await approve(browser, params({ redirect_uri: registered }));
    expect([...location.searchParams.keys()]).toEqual(['tenant', 'code', 'state']);
    expect(location.searchParams.get('tenant')).toBe('a');
  });

  it('missing client_id → error page "Missing required parameter: client_id." — PreAuthorization validate :client_id', async () => {
    const { browser, params } = await setup();
    await expectErrorPage(
      browser,
      authorizePath(params({ client_id: undefined })),
      'Missing required parameter: client_id.',
    );
  });

  it('unknown client → invalid_client error page, even with a bad redirect URI (client is validated first) — PreAuthorization', async () => {
    const { browser, params } = await setup();
    await expectErrorPage(
      browser,
      authorizePath(params({ client_id: 'nope', redirect_uri: 'https://evil.example/cb' })),
      'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.',
    );
  });

  it('a redirect URI that is not registered → error page, never a redirect to it — PreAuthorization validate :redirect_uri', async () => {
    const { browser, params } = await setup();
    await expectErrorPage(
      browser,
      authorizePath(params({ redirect_uri: 'https://evil.example/cb', scope: 'not-a-scope' })),
      'The requested redirect uri is malformed or doesn&#39;t match client redirect URI.',
    );
  });

  it('missing response_type → "Missing required parameter: response_type." — PreAuthorization validate :params', async () => {
    const { browser, params } = await setup();
    await expectErrorPage(
      browser,
      authorizePath(params({ response_type: undefined })),
      'Missing required parameter: response_type.',
    );
  });

  it('response_type=token (implicit grant removed) → unsupported_response_type page — config/initializers/doorkeeper.rb grant_flows', async () => {
    const { browser, params } = await setup();
    await expectErrorPage(
      browser,
      authorizePath(params({ response_type: 'token' })),
      'The authorization server does not support this response type.',
    );
  });

  it('an unsupported response_mode → unsupported_response_mode page — PreAuthorization validate :response_mode', async () => {
    const { browser, params } = await setup();
    await expectErrorPage(
      browser,
      authorizePath(params({ response_mode: 'web_message' })),
      'The authorization server does not support this response mode.',
    );
  });

  it('a scope the application lacks → invalid_scope page, not a redirect — GitLab renders pre-auth errors', async () => {
    const { browser, params } = await setup({ scopes: ['read_user'] });
    await expectErrorPage(
      browser,
      authorizePath(params({ scope: 'api' })),
      'The requested scope is invalid, unknown, or malformed.',
    );
  });

  it('without scope the default scope (api) is requested — PreAuthorization#build_scopes', async () => {
    const withApi = await setup();
    const ok = await approve(withApi.browser, withApi.params({ scope: undefined }));
    expect(withApi.s.store.grants.get(ok.code!)!.scopes).toEqual(['api']);
  });

  it('an application without api gets invalid_scope when no scope is requested — PreAuthorization#build_scopes', async () => {
    const { browser, params } = await setup({ scopes: ['read_user', 'openid'] });
    await expectErrorPage(
      browser,
      authorizePath(params({ scope: undefined })),
      'The requested scope is invalid, unknown, or malformed.',
    );
  });

  it.each([
    ['no method', { code_challenge: 'abc' }],
    ['an unknown method', { code_challenge: 'abc', code_challenge_method: 'S512' }],
  ])(
    'a code_challenge with %s → invalid_code_challenge_method (no implicit plain) — PreAuthorization#validate_code_challenge_method',
    async (_, extra) => {
      const { browser, params } = await setup();
      await expectErrorPage(
        browser,
        authorizePath(params(extra)),
        'The code_challenge_method must be one of plain, S256.',
      );
    },
  );

  it('the plain PKCE method is accepted — doorkeeper pkce (plain and S256)', async () => {
    const { s, browser, params } = await setup();
    const { code } = await approve(
      browser,
      params({ code_challenge: 'plain-verifier', code_challenge_method: 'plain' }),
    );
    expect(s.store.grants.get(code!)!.codeChallengeMethod).toBe('plain');
  });

  it('without a query on the registered URI, the request may add one — URIChecker.matches? (query cleared before comparing)', async () => {
    const { browser, params } = await setup();
    const { location } = await approve(browser, params({ redirect_uri: `${CALLBACK}?from=login` }));
    expect(location.searchParams.get('from')).toBe('login');
    expect(location.searchParams.get('code')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('with a query on the registered URI, the request must carry the same pairs (any order) — URIChecker.query_matches?', async () => {
    const registered = 'https://portal.example.com/cb?a=1&b=2';
    const { browser, params } = await setup({ redirectUri: registered });
    expect(
      (await browser.get(authorizePath(params({ redirect_uri: 'https://portal.example.com/cb?b=2&a=1' }))))
        .text,
    ).toContain('Authorize Portal');
    for (const uri of [
      'https://portal.example.com/cb?a=1',
      'https://portal.example.com/cb?a=1&b=2&c=3',
      'https://portal.example.com/cb',
    ]) {
      await expectErrorPage(
        browser,
        authorizePath(params({ redirect_uri: uri })),
        'The requested redirect uri is malformed or doesn&#39;t match client redirect URI.',
      );
    }
  });

  it('loopback IP redirect URIs may use any port; localhost may not — URIChecker (RFC 8252 §7.3)', async () => {
    const { browser, params } = await setup({
      redirectUri: [
        'http://127.0.0.1/callback',
        'http://[::1]:8080/callback',
        'http://localhost:3000/callback',
      ],
    });
    for (const uri of ['http://127.0.0.1:51234/callback', 'http://[::1]:9999/callback']) {
      expect((await browser.get(authorizePath(params({ redirect_uri: uri })))).text).toContain(
        'Authorize Portal',
      );
    }
    await expectErrorPage(
      browser,
      authorizePath(params({ redirect_uri: 'http://localhost:4000/callback' })),
      'The requested redirect uri is malformed or doesn&#39;t match client redirect URI.',
    );
    await expectErrorPage(
      browser,
      authorizePath(params({ redirect_uri: 'http://127.0.0.1:5000/other' })),
      'The requested redirect uri is malformed or doesn&#39;t match client redirect URI.',
    );
  });

  it('a redirect URI with a fragment is invalid — URIChecker.valid?', async () => {
    const { browser, params } = await setup();
    await expectErrorPage(
      browser,
      authorizePath(params({ redirect_uri: `${CALLBACK}#frag` })),
      'The requested redirect uri is malformed or doesn&#39;t match client redirect URI.',
    );
  });

  it('any of the registered URIs may be used — valid_for_authorization? (client_url.split.any?)', async () => {
    const second = 'https://staging.example.com/auth/callback';
    const { browser, params } = await setup({ redirectUri: [CALLBACK, second] });
    const { location } = await approve(browser, params({ redirect_uri: second }));
    expect(`${location.origin}${location.pathname}`).toBe(second);
  });

  it('a trusted application is approved without asking: the redirect page links to the code — authorizations_controller.rb#new', async () => {
    const { s, browser, params } = await setup({ trusted: true });
    const res = await browser.get(authorizePath(params()));
    expect(res.status).toBe(200);
    expect(res.text).not.toContain('Authorize Portal');
    const href = /Click here to redirect to ([^<]+)</.exec(res.text)![1]!.replaceAll('&amp;', '&');
    const code = new URL(href).searchParams.get('code')!;
    expect(s.store.grants.has(code)).toBe(true);
    expect(new URL(href).searchParams.get('state')).toBe('xyz');
    expect(res.text).toContain(`window.location = ${JSON.stringify(href)};`);
  });

  it.each([
    [true, 'approved silently'],
    [false, 'asked again'],
  ])(
    'confidential=%s app with an active token of the same scopes is %s — authorizations_controller.rb#new (matching_token?)',
    async (confidential) => {
      const { s, browser, params, alice, client } = await setup({ confidential });
      s.store.issueAccessToken({
        userId: alice.id,
        applicationId: client.app.id,
        scopes: ['read_user', 'openid'],
      });
      const res = await browser.get(authorizePath(params()));
      expect(res.text.includes('Authorize Portal')).toBe(!confidential);
      expect(res.text.includes('Click here to redirect to')).toBe(confidential);
    },
  );

  it('a token with other scopes, or an expired one, does not count as matching — AccessToken.matching_token_for (active tokens)', async () => {
    const { s, browser, params, alice, client } = await setup();
    s.store.issueAccessToken({ userId: alice.id, applicationId: client.app.id, scopes: ['api'] });
    expect((await browser.get(authorizePath(params()))).text).toContain('Authorize Portal');
    s.store.issueAccessToken({
      userId: alice.id,
      applicationId: client.app.id,
      scopes: ['openid', 'read_user'],
    });
    s.advanceTime(7200 * 1000);
    expect((await browser.get(authorizePath(params()))).text).toContain('Authorize Portal');
  });

  it('a user with an unconfirmed e-mail gets an error page — authorizations_controller.rb#verify_confirmed_email!', async () => {
    const { browser, params, alice } = await setup();
    alice.confirmedAt = null;
    await expectErrorPage(
      browser,
      authorizePath(params()),
      'Verify the email address in your account profile before you sign in.',
    );
  });

  it('gl_auth_type=login narrows the request to read_user and adds read_user to an api app — authorizations_controller.rb#downgrade_scopes!', async () => {
    const { s, browser, params, client } = await setup({ scopes: ['api'] });
    const { code } = await approve(browser, params({ gl_auth_type: 'login', scope: 'api' }));
    expect(s.store.grants.get(code!)!.scopes).toEqual(['read_user']);
    expect(client.app.scopes).toEqual(['api', 'read_user']);
  });

  it('response_mode=fragment puts the code in the fragment — doorkeeper uri_with_fragment', async () => {
    const { browser, params } = await setup({ trusted: true });
    const res = await browser.get(authorizePath(params({ response_mode: 'fragment' })));
    const href = /Click here to redirect to ([^<]+)</.exec(res.text)![1]!.replaceAll('&amp;', '&');
    const url = new URL(href);
    expect(url.search).toBe('');
    expect(new URLSearchParams(url.hash.slice(1)).get('state')).toBe('xyz');
  });
});

describe('POST/DELETE /oauth/authorize (doorkeeper AuthorizationsController#create, #destroy)', () => {
  const sim = useSimulator();

  async function setup() {
    const s = sim();
    s.givenUser({ username: 'alice', password: PASSWORD });
    const client = s.givenApplication({
      name: 'Portal',
      redirectUri: CALLBACK,
      scopes: ['read_user', 'openid'],
    });
    const browser = await signedIn(s, 'alice', PASSWORD);
    const consent = await browser.get(
      authorizePath({
        client_id: client.applicationId,
        redirect_uri: CALLBACK,
        response_type: 'code',
        scope: 'openid',
        state: 's1',
      }),
    );
    return { s, client, browser, authorize: form(consent.text, 'Authorize Portal') };
  }

  it('approving without the CSRF token is rejected with 422 — protect_from_forgery', async () => {
    const { s, browser, authorize } = await setup();
    const res = await browser.submit(authorize, { authenticity_token: 'forged' });
    expect(res.status).toBe(422);
    expect(s.store.grants.size).toBe(0);
  });

  it('DELETE /oauth/authorize denies like the Cancel button — doorkeeper authorizations#destroy', async () => {
    const { browser, authorize } = await setup();
    const res = await browser.request('DELETE', '/oauth/authorize', { form: authorize.fields });
    expect(res.status).toBe(302);
    expect(new URL(res.location!).searchParams.get('error')).toBe('access_denied');
  });

  it('an approval with a scope the app lacks is redirected back to the client with the error — redirect_or_render(error_response)', async () => {
    const { browser, authorize } = await setup();
    const res = await browser.submit(authorize, { scope: 'api' });
    expect(res.status).toBe(302);
    expect(res.location).toBe(
      `${CALLBACK}?error=invalid_scope&error_description=The+requested+scope+is+invalid%2C+unknown%2C+or+malformed.&state=s1`,
    );
  });

  it('an approval for an unknown client is answered with JSON 401, not a redirect — ErrorResponse#redirectable?', async () => {
    const { browser, authorize } = await setup();
    const res = await browser.submit(authorize, { client_id: 'nope' });
    expect(res.status).toBe(401);
    expect(JSON.parse(res.text)).toEqual({
      error: 'invalid_client',
      error_description:
        'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.',
      state: 's1',
    });
  });

  it('an urn:ietf:wg:oauth:2.0:oob client is shown the code on a GitLab page — doorkeeper authorizations#show', async () => {
    const s = sim();
    s.givenUser({ username: 'alice', password: PASSWORD });
    const client = s.givenApplication({
      name: 'CLI',
      redirectUri: 'urn:ietf:wg:oauth:2.0:oob',
      scopes: ['read_user'],
    });
    const browser = await signedIn(s, 'alice', PASSWORD);
    const { res } = await approve(browser, {
      client_id: client.applicationId,
      redirect_uri: 'urn:ietf:wg:oauth:2.0:oob',
      response_type: 'code',
      scope: 'read_user',
    });
    expect(res.location).toMatch(new RegExp(`^${s.url}/oauth/authorize/native\\?code=[0-9a-f]{64}$`));
    const code = new URL(res.location!).searchParams.get('code')!;
    const page = await browser.get(res.location!);
    expect(page.text).toContain(`<code id="authorization_code">${code}</code>`);
  });
});

function codeChallenge() {
  return { code_challenge: pkcePair().challenge, code_challenge_method: 'S256' };
}
