import { html } from '../html.js';

let seq = 0;
/** A stable, unique id for a label's `for`. */
export const fieldId = (prefix) => `${prefix}-${++seq}`;

/**
 * One labelled input of a provider form; the API's `field` in an error marks it invalid.
 * @param {{ field: import('./providers.js').Field, id: string, value: any, onInput: (v: any) => void, invalid?: boolean }} props
 */
export function Field({ field, id, value, onInput, invalid }) {
  const helpId = field.help ? `${id}-help` : undefined;
  const common = { id, name: field.key, required: field.required, 'aria-describedby': helpId, 'aria-invalid': invalid ? 'true' : undefined };
  let input;
  switch (field.kind) {
    case 'select':
      input = html`<select ...${common} value=${value ?? ''} onChange=${(e) => onInput(e.currentTarget.value)}>
        ${field.options.map((o) => html`<option value=${o}>${o || '(default)'}</option>`)}
      </select>`;
      break;
    case 'textarea':
      input = html`<textarea ...${common} rows="4" value=${value ?? ''} onInput=${(e) => onInput(e.currentTarget.value)}></textarea>`;
      break;
    case 'checkbox':
      return html`<div class="field check">
        <input type="checkbox" ...${common} checked=${Boolean(value)} onChange=${(e) => onInput(e.currentTarget.checked)} />
        <label for=${id}>${field.label}</label>
        ${field.help && html`<p class="help" id=${helpId}>${field.help}</p>`}
      </div>`;
    default:
      input = html`<input ...${common} type=${field.kind === 'password' ? 'password' : field.kind === 'number' ? 'number' : field.kind === 'url' ? 'url' : 'text'}
        autocomplete=${field.kind === 'password' ? 'off' : undefined} placeholder=${field.placeholder} value=${value ?? ''}
        onInput=${(e) => onInput(e.currentTarget.value)} />`;
  }
  return html`<div class="field">
    <label for=${id}>${field.label}${field.required ? html`<span class="req" aria-hidden="true"> *</span>` : ''}</label>
    ${input}
    ${field.help && html`<p class="help" id=${helpId}>${field.help}</p>`}
  </div>`;
}

/** The form's values as the API's config: empty fields left out, numbers as numbers. */
export function configOf(fields, values) {
  /** @type {Record<string, unknown>} */
  const config = {};
  for (const f of fields) {
    const v = values[f.key];
    if (v === undefined || v === '' || v === false) continue;
    config[f.key] = f.kind === 'number' ? Number(v) : typeof v === 'string' && f.kind !== 'password' && f.kind !== 'textarea' ? v.trim() : v;
  }
  return config;
}

/** The field an API error names, without its `config.` prefix. */
export const errorField = (error) => (error && error.field ? String(error.field).replace(/^config\./, '') : null);
