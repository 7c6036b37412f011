// Progressive enhancement only: every page works without this file.
(() => {
  // Move focus to the error summary so screen-reader and keyboard users land on it.
  const summary = document.getElementById('error-summary');
  if (summary) summary.focus();

  // Username field: check it against GitLab as it is typed, and fill in a suggestion on request.
  const field = document.querySelector('input[data-username-check]');
  const status = field && document.getElementById(`${field.id}-status`);
  if (!field || !status) return;
  const form = field.form;
  const value = (name) => form.elements.namedItem(name)?.value ?? '';
  let timer;
  let latest = 0;

  const say = (text, tone) => {
    status.textContent = text;
    status.className = `status${tone ? ` ${tone}` : ''}`;
  };

  const check = async (username) => {
    const request = ++latest;
    const query = new URLSearchParams({ username, name: value('name'), email: value('email') });
    try {
      const res = await fetch(`${field.dataset.usernameCheck}?${query}`, {
        headers: { accept: 'application/json' },
        credentials: 'same-origin',
      });
      if (request !== latest) return null;
      if (!res.ok) {
        say(res.status === 429 ? 'Too many checks in a row; the next one runs in a moment.' : '');
        return null;
      }
      return await res.json();
    } catch {
      return null;
    }
  };

  const describe = (result) => {
    const others = result.suggestions.length ? ` Free: ${result.suggestions.join(', ')}.` : '';
    if (result.problems.length) say(`${result.problems.join(' ')}${others}`, 'bad');
    else if (result.available === true) say(`${result.username} is free in GitLab.`, 'ok');
    else if (result.available === false) say(`${result.username} is already taken.${others}`, 'bad');
    else say('');
  };

  field.addEventListener('input', () => {
    clearTimeout(timer);
    if (field.value.trim() === '') return say('');
    timer = setTimeout(async () => {
      const result = await check(field.value);
      if (result) describe(result);
    }, 400);
  });

  // The error the server rendered for the old value no longer applies to a new suggestion.
  const clearServerError = () => {
    document.getElementById(`${field.id}-error`)?.remove();
    field.closest('.field')?.classList.remove('has-error');
    field.removeAttribute('aria-invalid');
    const describedBy = (field.getAttribute('aria-describedby') ?? '')
      .split(' ')
      .filter((id) => id && id !== `${field.id}-error`);
    field.setAttribute('aria-describedby', describedBy.join(' '));
  };

  // The last value filled in automatically: the sponsor's own typing is never overwritten.
  let suggested = '';
  const fillSuggestion = async ({ focus }) => {
    const before = field.value;
    const result = await check('');
    // The sponsor typed a username while the suggestion was on its way: theirs wins.
    if (field.value !== before) return;
    const first = result?.suggestions[0];
    if (!first) {
      if (focus) say('Enter the full name or e-mail address first.', 'bad');
      return;
    }
    field.value = first;
    suggested = first;
    clearServerError();
    const rest = result.suggestions.slice(1);
    say(
      `Suggested ${first}; it is free in GitLab.${rest.length ? ` Also free: ${rest.join(', ')}.` : ''}`,
      'ok',
    );
    if (focus) field.focus();
    // Selected, so that typing into the field replaces the suggestion instead of adding to it.
    if (document.activeElement === field) field.select();
  };

  const suggest = form.querySelector('button[name="intent"][value="suggest"]');
  suggest?.addEventListener('click', (event) => {
    event.preventDefault();
    void fillSuggestion({ focus: true });
  });
  for (const name of ['name', 'email']) {
    form.elements.namedItem(name)?.addEventListener('change', () => {
      if (field.value === '' || field.value === suggested) void fillSuggestion({ focus: false });
    });
  }
})();
