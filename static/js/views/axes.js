// The submit form's sweep editor: axes (spec fields by dotted path, each with the values to try)
// and seeds as a range. With any axis the form submits a sweep (POST /api/v1/sweeps), one job
// per combination; the editor shows how many before anything is queued.

import { h, replace } from '../util.js';

/** Every combination of the axes' values (`{path: [values]}`), the last axis varying fastest,
 * as the server expands them (src/evolution/sweep.rs). */
export function combinations(axes) {
  let all = [{}];
  for (const [path, values] of Object.entries(axes)) {
    all = all.flatMap((partial) => values.map((value) => ({ ...partial, [path]: value })));
  }
  return all;
}

/** `a=1, b=x`: a combination in words, as the server labels variants. */
export function comboLabel(values) {
  return Object.entries(values).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ');
}

/**
 * The editor. `onChange` runs after every edit. Returns `{element, describe(schema), plan(),
 * showEstimate(e), showError(field, message), clearErrors()}`.
 */
export function axesEditor({ onChange }) {
  let schema = null;
  let limits = { jobs: 64, axes: 6, values: 64 }; // until the server's schema says (schema.js)
  const rows = []; // { li, path, values, slot }
  let nextRow = 1;

  // Named "Seeds from" and "Seeds to": the row's title and each box's own word.
  const seedFrom = h('input', { type: 'number', id: 'sweep-seed-from', step: 1, inputmode: 'numeric', autocomplete: 'off', class: 'narrow', 'aria-labelledby': 'sweep-seeds-label sweep-seed-from-label' });
  const seedTo = h('input', { type: 'number', id: 'sweep-seed-to', step: 1, inputmode: 'numeric', autocomplete: 'off', class: 'narrow', 'aria-labelledby': 'sweep-seeds-label sweep-seed-to-label' });
  const seedSlot = h('p', { class: 'field-error', id: 'sweep-seed-error', hidden: true });
  const seedRow = h('div', { class: 'axis-seeds', dataset: { axis: 'seed' } },
    h('span', { class: 'axis-title', id: 'sweep-seeds-label', text: 'Seeds' }),
    h('label', { for: 'sweep-seed-from', id: 'sweep-seed-from-label', text: 'from' }), seedFrom,
    h('label', { for: 'sweep-seed-to', id: 'sweep-seed-to-label', text: 'to' }), seedTo,
    h('span', { class: 'muted small', text: 'one run of every variant per seed (the Seed above then goes unused)' }),
    seedSlot);
  const fieldList = h('datalist', { id: 'axis-fields' });
  const list = h('ul', { class: 'axis-list', id: 'axis-list' });
  const addButton = h('button', { type: 'button', class: 'btn btn-small', id: 'add-axis', text: 'Add axis' });
  const size = h('p', { class: 'sweep-size', id: 'sweep-size', role: 'status', 'aria-live': 'polite' });
  const estimateLine = h('p', { class: 'estimate', id: 'sweep-estimate', hidden: true });
  const warning = h('p', { class: 'estimate-warning', id: 'sweep-estimate-warning', role: 'alert', hidden: true });
  const element = h('section', { class: 'card form-sweep', id: 'sweep-editor', 'aria-labelledby': 'sweep-editor-title' },
    h('div', { class: 'card-head' }, h('h2', { id: 'sweep-editor-title', text: 'Sweep (optional)' }), addButton),
    h('p', { class: 'muted small' },
      'Vary any spec field: the form then queues one job per combination of the values, as a sweep whose runs that differ only in their seed form a variant, drawn as a band.'),
    seedRow, list, fieldList, size, estimateLine, warning);

  for (const input of [seedFrom, seedTo]) {
    input.addEventListener('input', changed);
  }
  addButton.addEventListener('click', () => addRow().path.focus());

  function addRow(path = '', values = '') {
    const n = nextRow++;
    const pathInput = h('input', { type: 'text', id: `axis-${n}-path`, list: 'axis-fields', value: path, placeholder: 'e.g. strategy.sigma0', autocomplete: 'off', spellcheck: 'false', class: 'mono' });
    const valuesInput = h('input', { type: 'text', id: `axis-${n}-values`, value: values, placeholder: 'comma-separated, e.g. 0.1, 0.5', autocomplete: 'off' });
    const slot = h('p', { class: 'field-error', id: `axis-${n}-error`, hidden: true });
    const remove = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Remove axis ${n}`, text: 'Remove' });
    const li = h('li', { class: 'axis-row', dataset: { axisRow: String(n) } },
      h('div', { class: 'field' }, h('label', { for: pathInput.id, text: 'Field' }), pathInput),
      h('div', { class: 'field' }, h('label', { for: valuesInput.id, text: 'Values' }), valuesInput),
      remove, slot);
    const row = { li, path: pathInput, values: valuesInput, slot };
    pathInput.addEventListener('input', () => {
      valuesInput.placeholder = valuesHint(pathInput.value.trim());
      changed();
    });
    valuesInput.addEventListener('input', changed);
    remove.addEventListener('click', () => {
      rows.splice(rows.indexOf(row), 1);
      li.remove();
      changed();
      addButton.focus();
    });
    rows.push(row);
    list.append(li);
    changed();
    return row;
  }

  /** What the values box expects for the field at `path`. */
  function valuesHint(path) {
    const kind = schema?.kind(path);
    if (!kind) return 'comma-separated, e.g. 0.1, 0.5';
    if (kind.type === 'enum') return schema.choices(path).join(', ');
    if (kind.type === 'boolean') return 'true, false';
    if (kind.type === 'integer') return 'whole numbers, e.g. 64, 128';
    return 'numbers, e.g. 0.1, 0.5';
  }

  /** One value as the field's type, or an Error saying why it is not. */
  function parseValue(path, token) {
    const kind = schema?.kind(path);
    if (kind?.nullable && token === 'null') return null;
    switch (kind?.type) {
      case 'integer':
        return /^-?\d+$/.test(token) ? Number(token) : new Error(`“${token}” is not a whole number`);
      case 'number': {
        const n = Number(token);
        return token !== '' && Number.isFinite(n) ? n : new Error(`“${token}” is not a number`);
      }
      case 'boolean':
        return token === 'true' || token === 'false' ? token === 'true' : new Error(`“${token}” is not true or false`);
      case 'enum': {
        const choices = schema.choices(path);
        return choices.includes(token) ? token : new Error(`“${token}” is not one of ${choices.join(', ')}`);
      }
      case 'string':
        return token;
      default:
        // A field the schema does not describe here: JSON where it reads as JSON, else text.
        try {
          return JSON.parse(token);
        } catch {
          return token;
        }
    }
  }

  /** The sweep as the fields stand: `{axes, count, errors: [{input, message}]}`; `count` is 0
   * without any axis (the form then submits one job). */
  function plan() {
    const axes = {};
    const errors = [];
    const fail = (input, slot, message) => errors.push({ input, slot, message });
    const from = seedFrom.value.trim();
    const to = seedTo.value.trim();
    if (from || to) {
      const a = Number(from || to);
      const b = Number(to || from);
      if (!Number.isInteger(a) || !Number.isInteger(b)) fail(from ? seedFrom : seedTo, seedSlot, 'Seeds are whole numbers.');
      else if (b < a) fail(seedTo, seedSlot, `“to” (${b}) is below “from” (${a}).`);
      else if (b - a + 1 > limits.values) fail(seedTo, seedSlot, `${b - a + 1} seeds: an axis lists at most ${limits.values} values.`);
      else axes.seed = Array.from({ length: b - a + 1 }, (_, i) => a + i);
    }
    for (const row of rows) {
      const path = row.path.value.trim();
      const raw = row.values.value.trim();
      if (!path && !raw) continue;
      if (!path) {
        fail(row.path, row.slot, 'Name the spec field to vary, e.g. strategy.sigma0.');
        continue;
      }
      if (path === 'seed') {
        fail(row.path, row.slot, 'Seeds have their own row above (from … to).');
        continue;
      }
      if (path in axes) {
        fail(row.path, row.slot, `${path} is an axis already: list all its values once.`);
        continue;
      }
      const tokens = raw.split(',').map((t) => t.trim()).filter(Boolean);
      if (!tokens.length) {
        fail(row.values, row.slot, `List the values of ${path} to try, comma-separated.`);
        continue;
      }
      const values = tokens.map((t) => parseValue(path, t));
      const bad = values.find((v) => v instanceof Error);
      if (bad) {
        fail(row.values, row.slot, `${bad.message}.`);
        continue;
      }
      const twice = values.findIndex((v, i) => values.slice(0, i).some((w) => JSON.stringify(w) === JSON.stringify(v)));
      if (twice >= 0) {
        fail(row.values, row.slot, `${tokens[twice]} is listed twice: each value makes one job (more runs of a setting are more seeds).`);
        continue;
      }
      if (values.length > limits.values) {
        fail(row.values, row.slot, `${values.length} values: an axis lists at most ${limits.values}.`);
        continue;
      }
      axes[path] = values;
    }
    const names = Object.keys(axes);
    const count = names.length ? Object.values(axes).reduce((n, v) => n * v.length, 1) : 0;
    return { axes, count, errors, limits };
  }

  /** Shows the local errors and the number of jobs; disables what cannot be added. */
  function render() {
    const p = plan();
    for (const slot of [seedSlot, ...rows.map((r) => r.slot)]) {
      slot.hidden = true;
      slot.textContent = '';
    }
    for (const input of [seedFrom, seedTo, ...rows.flatMap((r) => [r.path, r.values])]) input.removeAttribute('aria-invalid');
    for (const { input, slot, message } of p.errors) {
      slot.textContent = message;
      slot.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      input.setAttribute('aria-describedby', slot.id);
    }
    addButton.disabled = rows.length + 1 >= limits.axes;
    size.dataset.jobs = String(p.count);
    size.classList.toggle('error', p.count > limits.jobs);
    size.classList.toggle('muted', p.count === 0);
    const names = Object.keys(p.axes);
    if (!names.length) {
      size.textContent = p.errors.length ? 'No complete axis yet.' : 'No axes: the form submits one job.';
      return p;
    }
    const factors = names.map((path) => (path === 'seed' ? `${p.axes.seed.length} seeds` : `${p.axes[path].length} values of ${path}`));
    const product = names.length > 1 ? ` (${factors.join(' × ')})` : ` (${factors[0]})`;
    size.textContent = p.count > limits.jobs
      ? `${p.count} jobs${product}: more than the ${limits.jobs} a sweep may have. Drop values, or submit it as several sweeps.`
      : `${p.count} ${p.count === 1 ? 'job' : 'jobs'}${product}; a sweep may have up to ${limits.jobs}.`;
    return p;
  }

  function changed() {
    render();
    onChange?.();
  }

  /** The estimate of the whole sweep: `{text, seconds, warning}`, or null for none. */
  function showEstimate(e) {
    estimateLine.hidden = !e;
    warning.hidden = !e?.warning;
    if (!e) return;
    estimateLine.textContent = e.text;
    estimateLine.dataset.seconds = String(e.seconds ?? '');
    warning.textContent = e.warning || '';
  }

  /** Shows a server error about the axes (`axes`, `axes.seed`, `axes.strategy.sigma0[1]`), or
   * about a spec field an axis sets (`spec.strategy.popsize`: the axis' values replace the
   * form's), at its row; returns the input to focus, or null for an error not the axes'. */
  function showError(field, message) {
    const axis = /^axes(?:\.([^[]+))?/.exec(field || '');
    const specField = /^spec\.([^[]+)/.exec(field || '');
    if (!axis && !specField) return null;
    const path = (axis ?? specField)[1];
    const seeded = Boolean(axis) || Boolean(seedFrom.value.trim() || seedTo.value.trim());
    const row = path === 'seed' ? (seeded ? { slot: seedSlot, input: seedFrom } : null)
      : rows.filter((r) => r.path.value.trim() === path).map((r) => ({ slot: r.slot, input: r.values }))[0];
    if (!row && specField) return null;
    const target = row ?? { slot: size, input: rows[0]?.values ?? seedFrom };
    if (target.slot === size) {
      size.textContent = message;
      size.classList.add('error');
    } else {
      target.slot.textContent = target.slot.hidden ? message : `${target.slot.textContent}\n${message}`;
      target.slot.hidden = false;
      target.input.setAttribute('aria-invalid', 'true');
      target.input.setAttribute('aria-describedby', target.slot.id);
    }
    return target.input;
  }

  /** The server's sweep-relevant schema: field suggestions, seed bounds, limits. */
  function describe(s) {
    schema = s;
    limits = s.sweepLimits();
    replace(fieldList, s.sweepable().filter((f) => f.path !== 'seed').map((f) => h('option', {
      value: f.path,
      label: f.type === 'enum' ? s.choices(f.path).join(' | ') : f.type,
    })));
    const { min, max } = s.bounds('seed');
    for (const input of [seedFrom, seedTo]) {
      if (min !== undefined) input.min = String(min);
      if (max !== undefined) input.max = String(max);
    }
    for (const row of rows) row.values.placeholder = valuesHint(row.path.value.trim());
    render();
  }

  render();
  return { element, describe, plan, showEstimate, showError, clearErrors: render, addRow };
}
