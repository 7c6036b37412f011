import type { ComponentChildren, InputHTMLAttributes } from 'preact';

export type FieldErrors = Partial<Record<string, string[]>>;

/**
 * A labelled form field with its hint and errors linked for assistive technology. Values are
 * always re-rendered from what the user sent, so nothing typed is lost on an error.
 */
export function Field(props: {
  name: string;
  label: string;
  value?: string;
  hint?: ComponentChildren;
  errors?: string[];
  type?: 'text' | 'email';
  multiline?: boolean;
  required?: boolean;
  autocomplete?: string;
  maxLength?: number;
  /** Extra attributes for progressive enhancement (e.g. live username checks). */
  attrs?: Record<string, string>;
  /** Renders a polite live region below the input for client-side status messages. */
  status?: boolean;
}) {
  const id = `f-${props.name}`;
  const hintId = props.hint ? `${id}-hint` : undefined;
  const errorId = props.errors?.length ? `${id}-error` : undefined;
  const statusId = props.status ? `${id}-status` : undefined;
  const describedBy = [hintId, errorId, statusId].filter(Boolean).join(' ') || undefined;
  const common = {
    id,
    name: props.name,
    'aria-describedby': describedBy,
    'aria-invalid': errorId ? true : undefined,
    required: props.required,
    maxLength: props.maxLength,
    autocomplete: props.autocomplete,
    ...props.attrs,
  };
  return (
    <div class={`field${errorId ? ' has-error' : ''}`}>
      <label for={id}>
        {props.label}
        {props.required ? null : <span class="optional"> (optional)</span>}
      </label>
      {props.hint ? (
        <p class="hint" id={hintId}>
          {props.hint}
        </p>
      ) : null}
      {errorId ? (
        <p class="error" id={errorId}>
          {props.errors!.map((e) => (
            <span key={e}>
              <span class="visually-hidden">Error: </span>
              {e}{' '}
            </span>
          ))}
        </p>
      ) : null}
      {props.multiline ? (
        <textarea {...common}>{props.value ?? ''}</textarea>
      ) : (
        <input
          {...({
            type: props.type ?? 'text',
            value: props.value ?? '',
            spellcheck: false,
            ...common,
          } as InputHTMLAttributes<HTMLInputElement>)}
        />
      )}
      {statusId ? <p class="status" id={statusId} aria-live="polite" /> : null}
    </div>
  );
}

/** The list of errors at the top of a form, each linking to its field. */
export function ErrorSummary(props: {
  errors: FieldErrors;
  labels: Record<string, string>;
  message?: string;
}) {
  const entries = Object.entries(props.errors).filter(([, v]) => v && v.length > 0);
  if (entries.length === 0 && !props.message) return null;
  return (
    <div class="alert error" role="alert" tabIndex={-1} id="error-summary">
      <h2>There is a problem</h2>
      {props.message ? <p>{props.message}</p> : null}
      {entries.length > 0 ? (
        <ul class="alert-list">
          {entries.map(([name, msgs]) => (
            <li key={name}>
              <a href={`#f-${name}`}>
                {props.labels[name] ?? name}: {msgs!.join(' ')}
              </a>
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

export function Alert(props: { kind: 'error' | 'ok' | 'info'; title?: string; children: ComponentChildren }) {
  return (
    <div class={`alert ${props.kind}`} role={props.kind === 'error' ? 'alert' : 'status'}>
      {props.title ? <h2>{props.title}</h2> : null}
      {props.children}
    </div>
  );
}

export function CsrfField(props: { token: string | undefined }) {
  return <input type="hidden" name="_csrf" value={props.token ?? ''} />;
}
