// The submit form: a few convenient fields kept in sync with a JSON spec editor. Server
// validation errors (422 with `field`) appear next to the field they name.

import { api, ApiError, jobUrl } from '../api.js';
import { h, replace, hashQuery, toast, throttle, fmtDuration, fitnessNote, fitnessExplained } from '../util.js';
import { specSchema } from '../schema.js';

// The presets are the spec files in examples/, served by GET /api/v1/examples: file -> spec.
const PRESETS = new Map();
/** The example a new form opens on: a short run that visibly learns. */
const FIRST_RUN = 'cartpole-quick.json';

function clone(v) {
  return JSON.parse(JSON.stringify(v));
}

function mergePatch(target, patch) {
  for (const [k, v] of Object.entries(patch)) {
    if (v && typeof v === 'object' && !Array.isArray(v) && target[k] && typeof target[k] === 'object') mergePatch(target[k], v);
    else target[k] = clone(v);
  }
  return target;
}

function getPath(obj, path) {
  return path.split('.').reduce((o, k) => (o && typeof o === 'object' ? o[k] : undefined), obj);
}

function setPath(obj, path, value) {
  const keys = path.split('.');
  let o = obj;
  for (const k of keys.slice(0, -1)) {
    if (!o[k] || typeof o[k] !== 'object' || Array.isArray(o[k])) o[k] = {};
    o = o[k];
  }
  const last = keys[keys.length - 1];
  if (value === undefined) delete o[last];
  else o[last] = value;
}

export function submitView(root) {
  // Until the server's schema arrives: nothing but the one required field.
  let defaults = { envs: [] };
  let spec = clone(defaults);
  let envList = [];
  const controller = new AbortController();
  const errorSlots = new Map(); // path -> { slot, input }

  // Convenient fields: [path, label, kind, extra]
  const fields = [
    ['name', 'Name', 'text', { placeholder: 'defaults to the environments', maxlength: 200 }],
    ['tags', 'Tags', 'tags', { placeholder: 'comma-separated, e.g. paper, sweep-3' }],
    ['strategy.name', 'Strategy', 'select', {}],
    ['strategy.popsize', 'Population size', 'int', { step: 1 }],
    ['strategy.sigma0', 'Initial σ', 'float', { step: 'any' }],
    ['lifetime.episodes', 'Episodes per lifetime', 'int', { step: 1 }],
    ['lifetime.episode_mode', 'Episode mode', 'select', {}],
    ['generations', 'Generations', 'int', { step: 1 }],
    ['seed', 'Seed', 'int', { step: 1 }],
  ];

  const idFor = (path) => `spec-${path.replace(/[^a-z0-9]+/gi, '-')}`;
  const inputs = new Map();
  const fieldEls = [];
  for (const [path, label, kind, extra] of fields) {
    const id = idFor(path);
    let input;
    if (kind === 'select') {
      input = h('select', { id, name: path }); // options: the server's schema (below)
    } else {
      input = h('input', {
        id, name: path,
        type: kind === 'int' || kind === 'float' ? 'number' : 'text',
        inputmode: kind === 'int' ? 'numeric' : kind === 'float' ? 'decimal' : null,
        step: extra.step, placeholder: extra.placeholder, maxlength: extra.maxlength,
        autocomplete: 'off',
      });
    }
    input.dataset.kind = kind;
    inputs.set(path, input);
    const slot = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
    errorSlots.set(path, { slot, input });
    fieldEls.push(h('div', { class: 'field', dataset: { field: path } }, h('label', { for: id, text: label }), input, slot));
    input.addEventListener('input', () => {
      const v = readInput(input);
      setPath(spec, path, v);
      clearError(path);
      writeJson();
    });
    input.addEventListener('change', () => writeFields());
  }

  const envBox = h('div', { class: 'env-choices', id: 'spec-envs' });
  const envSlot = h('p', { class: 'field-error', id: 'spec-envs-error', hidden: true });
  const envFieldset = h('fieldset', { class: 'field envs', dataset: { field: 'envs' }, 'aria-describedby': 'spec-envs-error' },
    h('legend', { text: 'Environments' }), envBox, envSlot);
  errorSlots.set('envs', { slot: envSlot, input: envFieldset });

  const jsonArea = h('textarea', { id: 'spec-json', name: 'spec', spellcheck: 'false', rows: 28, autocomplete: 'off', 'aria-describedby': 'spec-json-error spec-json-help' });
  const jsonSlot = h('p', { class: 'field-error', id: 'spec-json-error', hidden: true });
  errorSlots.set('', { slot: jsonSlot, input: jsonArea });

  const presetSelect = h('select', { id: 'spec-preset' },
    h('option', { value: '', text: 'Choose a preset (examples/)…' }));
  const resetButton = h('button', { type: 'button', class: 'btn btn-small' }, 'Reset');
  const submitButton = h('button', { type: 'submit', class: 'btn btn-primary', id: 'submit-job' }, 'Submit job');
  const formStatus = h('p', { class: 'form-status', role: 'status', 'aria-live': 'polite' });
  const heading = h('h1', { text: 'New job' });
  const formFitness = fitnessNote(spec);
  // The run-time estimate: the server's (POST /jobs/estimate) for the spec as it stands.
  const estimateBox = h('p', { class: 'estimate', id: 'run-estimate', role: 'status', 'aria-live': 'polite' }, 'Estimating the run time…');

  // While the JSON cannot be read, the fields cannot show it: they say so and wait, rather
  // than show the last values that could be read.
  const staleNote = h('p', { class: 'field-error', id: 'fields-stale', hidden: true },
    'The fields follow the JSON spec, which is not valid JSON right now: fix it to edit them here.');
  const form = h('form', { class: 'submit-form', id: 'job-form', novalidate: true },
    h('section', { class: 'card form-fields', 'aria-labelledby': 'fields-title' },
      h('div', { class: 'card-head' }, h('h2', { id: 'fields-title', text: 'Settings' }),
        h('div', { class: 'preset' }, h('label', { for: 'spec-preset', class: 'sr-only', text: 'Preset' }), presetSelect, resetButton)),
      staleNote,
      h('div', { class: 'grid-fields' }, fieldEls.slice(0, 2)),
      envFieldset,
      h('div', { class: 'grid-fields' }, fieldEls.slice(2)),
      estimateBox,
      formFitness),
    h('section', { class: 'card form-json', 'aria-labelledby': 'json-title' },
      h('div', { class: 'card-head' }, h('h2', { id: 'json-title' }, h('label', { for: 'spec-json', text: 'Job spec (JSON)' }))),
      h('p', { class: 'muted small', id: 'spec-json-help' }, 'Every field of the spec; the settings on the left edit it too. Only ', h('code', { text: 'envs' }), ' is required — a removed field takes its default.'),
      jsonArea, jsonSlot),
    h('div', { class: 'form-actions' }, formStatus, h('a', { href: '#/', class: 'btn', text: 'Back to jobs' }), submitButton));

  replace(root, h('div', { class: 'page-head' }, heading), form);

  function readInput(input) {
    const raw = input.value;
    switch (input.dataset.kind) {
      case 'tags':
        return raw.split(',').map((t) => t.trim()).filter(Boolean);
      case 'int':
      case 'float': {
        if (raw.trim() === '') return undefined;
        const n = Number(raw);
        return Number.isFinite(n) ? n : raw;
      }
      case 'text':
        return raw;
      default:
        return raw;
    }
  }

  function writeJson() {
    jsonArea.value = JSON.stringify(spec, null, 2);
    fieldsFollowJson(true);
    estimateSoon();
  }

  let estimateToken = 0;
  async function estimate() {
    const token = ++estimateToken;
    let text;
    let seconds = '';
    let steps = '';
    let rate = '';
    try {
      const result = await api('/jobs/estimate', { method: 'POST', body: spec, signal: controller.signal });
      text = estimateText(result);
      seconds = result.seconds_upper ?? '';
      steps = result.total_steps;
      rate = result.executor?.measured?.steps_per_s ?? '';
    } catch (e) {
      if (e.name === 'AbortError') return;
      text = e instanceof ApiError && e.status === 422
        ? `No run-time estimate until the spec is valid (${e.field ? `${e.field}: ` : ''}${e.message}).`
        : `No run-time estimate: ${e.message}`;
    }
    if (token !== estimateToken) return;
    estimateBox.textContent = text;
    estimateBox.dataset.seconds = String(seconds);
    estimateBox.dataset.steps = String(steps);
    estimateBox.dataset.rate = String(rate);
  }
  // The fitness line names the spec's `combine` as it is edited.
  const estimateSoon = throttle(() => {
    formFitness.textContent = fitnessExplained(spec);
    estimate();
  }, 400);

  function writeFields() {
    for (const [path, input] of inputs) {
      if (document.activeElement === input) continue;
      const v = getPath(spec, path);
      if (input.dataset.kind === 'tags') input.value = Array.isArray(v) ? v.join(', ') : '';
      else if (input.tagName === 'SELECT') {
        const fallback = getPath(defaults, path);
        input.value = v ?? fallback ?? '';
      } else input.value = v === undefined || v === null ? '' : String(v);
    }
    const names = new Set((Array.isArray(spec.envs) ? spec.envs : []).map((e) => (typeof e === 'string' ? e : e?.name)));
    for (const box of envBox.querySelectorAll('input[type=checkbox]')) box.checked = names.has(box.value);
  }

  function renderEnvs() {
    replace(envBox, envList.map((env) => {
      const id = `env-${env.name}`;
      const box = h('input', { type: 'checkbox', id, value: env.name, name: 'envs' });
      box.addEventListener('change', () => {
        const current = Array.isArray(spec.envs) ? spec.envs : [];
        const name = (e) => (typeof e === 'string' ? e : e?.name);
        if (box.checked) {
          if (!current.some((e) => name(e) === env.name)) current.push(env.name);
        } else {
          spec.envs = current.filter((e) => name(e) !== env.name);
        }
        if (box.checked) spec.envs = current;
        clearError('envs');
        writeJson();
      });
      const detail = `${env.obs_dim} observations · ${describeAction(env.action_space)} · horizon ${env.horizon}`;
      return h('label', { class: 'env-choice', for: id }, box,
        h('span', {}, h('strong', { text: env.name }), h('span', { class: 'muted small', text: detail })));
    }));
    writeFields();
  }

  function fieldsFollowJson(valid) {
    staleNote.hidden = valid;
    for (const input of inputs.values()) input.disabled = !valid;
    for (const box of envBox.querySelectorAll('input')) box.disabled = !valid;
  }
  jsonArea.addEventListener('input', () => {
    clearError('');
    try {
      const parsed = JSON.parse(jsonArea.value);
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('the spec must be a JSON object');
      spec = parsed;
      jsonArea.removeAttribute('aria-invalid');
      fieldsFollowJson(true);
      writeFields();
      estimateSoon();
    } catch (e) {
      fieldsFollowJson(false);
      showError('', `Not valid JSON yet: ${e.message}`, { local: true });
    }
  });

  presetSelect.addEventListener('change', () => {
    const preset = PRESETS.get(presetSelect.value);
    if (!preset) return;
    spec = mergePatch(clone(defaults), preset);
    clearAllErrors();
    writeJson();
    writeFields();
  });
  resetButton.addEventListener('click', () => {
    spec = firstRun();
    presetSelect.value = '';
    clearAllErrors();
    writeJson();
    writeFields();
  });

  function slotFor(field) {
    // `envs[0].name` -> `envs`, `strategy.popsize` -> `strategy.popsize`; the longest known
    // prefix wins; anything else goes to the JSON editor.
    const plain = (field || '').replace(/\[\d+\]/g, '');
    let best = '';
    for (const path of errorSlots.keys()) {
      if (path && (plain === path || plain.startsWith(`${path}.`)) && path.length > best.length) best = path;
    }
    return best;
  }

  function showError(field, message, { local = false } = {}) {
    const path = local ? '' : slotFor(field);
    const { slot, input } = errorSlots.get(path);
    slot.textContent = path === '' && field ? `${field}: ${message}` : message;
    slot.hidden = false;
    input.setAttribute('aria-invalid', 'true');
    if (input.tagName !== 'FIELDSET') input.setAttribute('aria-describedby', [slot.id, input.id === 'spec-json' ? 'spec-json-help' : null].filter(Boolean).join(' '));
    input.closest('.field, .form-json')?.classList.add('has-error');
    return input;
  }

  function clearError(path) {
    const entry = errorSlots.get(path);
    if (!entry) return;
    entry.slot.hidden = true;
    entry.slot.textContent = '';
    entry.input.removeAttribute('aria-invalid');
    entry.input.closest('.field, .form-json')?.classList.remove('has-error');
  }

  function clearAllErrors() {
    for (const path of errorSlots.keys()) clearError(path);
    formStatus.textContent = '';
    formStatus.className = 'form-status';
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearAllErrors();
    let body;
    try {
      body = JSON.parse(jsonArea.value);
    } catch (e) {
      showError('', `Not valid JSON: ${e.message}`, { local: true }).focus();
      return;
    }
    submitButton.disabled = true;
    formStatus.textContent = 'Submitting…';
    try {
      const job = await api('/jobs', { method: 'POST', body });
      toast(`Queued “${job.name}”.`);
      location.hash = jobUrl(job.id);
    } catch (e) {
      formStatus.className = 'form-status error';
      if (e instanceof ApiError && e.status === 422) {
        formStatus.textContent = 'The server rejected the spec; see the highlighted field.';
        showError(e.field || '', e.message).focus();
      } else if (e instanceof ApiError && e.code === 'invalid_json') {
        formStatus.textContent = 'The spec is not valid JSON.';
        showError('', e.message, { local: true }).focus();
      } else {
        formStatus.textContent = `Submitting failed: ${e.message}`;
      }
    } finally {
      submitButton.disabled = false;
    }
  });

  /** The spec a new form opens on: the first-run example over the server's defaults. */
  function firstRun() {
    const example = PRESETS.get(FIRST_RUN) ?? PRESETS.values().next().value ?? {};
    return mergePatch(clone(defaults), example);
  }

  /** Choices and bounds of the fields, as the server's schema declares them. */
  function describeFields(schema) {
    for (const [path, input] of inputs) {
      const choices = schema.choices(path);
      if (input.tagName === 'SELECT' && choices) {
        replace(input, choices.map((o) => h('option', { value: o, text: o })));
      }
      const { min, max } = schema.bounds(path);
      if (min !== undefined) input.min = String(min);
      if (max !== undefined) input.max = String(max);
    }
  }

  writeJson();
  writeFields();
  const from = hashQuery().get('from');
  const examplesLoaded = api('/examples', { signal: controller.signal }).then((examples) => {
    for (const { file, spec: example } of examples) {
      PRESETS.set(file, example);
      const envs = (example.envs || []).map((e) => (typeof e === 'string' ? e : e.name)).join(' + ');
      const generations = example.generations ?? defaults.generations;
      presetSelect.append(h('option', { value: file, text: `${file}: ${envs}, ${generations} generations` }));
    }
  }).catch((e) => {
    if (e.name !== 'AbortError') toast(`Could not load the example specs: ${e.message}`, 'error');
  });
  Promise.all([specSchema(), examplesLoaded]).then(async ([schema]) => {
    if (controller.signal.aborted) return;
    defaults = schema.defaults();
    describeFields(schema);
    if (from) {
      // Clone: start from an existing job's spec.
      const job = await api(`/jobs/${encodeURIComponent(from)}`, { signal: controller.signal });
      spec = mergePatch(clone(defaults), job.spec || {});
      spec.name = job.name ? `${job.name} (copy)` : '';
      heading.textContent = 'New job from a copy';
    } else {
      spec = firstRun();
    }
    root.querySelector('#job-form')?.setAttribute('data-ready', 'true');
    writeJson();
    writeFields();
  }).catch((e) => {
    if (e.name !== 'AbortError') toast(`Could not prepare the form: ${e.message}`, 'error');
  });
  api('/envs', { signal: controller.signal }).then((list) => {
    envList = list;
    renderEnvs();
  }).catch((e) => {
    if (e.name !== 'AbortError') toast(`Could not load the environments: ${e.message}`, 'error');
  });

  return () => {
    controller.abort();
    estimateSoon.cancel();
  };
}

function describeAction(space) {
  if (space?.kind === 'discrete') return `${space.n} actions`;
  if (space?.kind === 'continuous') return `action in [${space.low}, ${space.high}]`;
  return '';
}

/** The estimate in words: a time where a throughput was measured, honest about what bounds it. */
function estimateText(e) {
  const steps = fmtCount(e.total_steps);
  const kind = e.exact_steps ? 'SFNN steps' : 'SFNN steps at most (episodes end early on done)';
  const ex = e.executor;
  if (!ex) return `${steps} ${kind}; this server runs no worker for the spec's executor, so no run-time estimate.`;
  if (!ex.measured) {
    return `${steps} ${kind}; no throughput measured yet on this server (${ex.name}, ${ex.device}): `
      + 'the estimate appears once a job has run here (sfnn bench measures one too).';
  }
  const rateText = fmtCount(ex.measured.steps_per_s);
  const time = fmtDuration(e.seconds_upper);
  const when = e.capped_by_wall_clock
    ? `at most ${time} (stop.max_wall_seconds)`
    : e.exact_steps ? `≈ ${time}` : `at most ${time} (upper bound: every episode to its horizon; those that end on done make it shorter)`;
  return `Run time ${when} — ${steps} ${kind} at ${rateText} steps/s measured on this server `
    + `(${ex.name}, ${ex.device}, last ${ex.measured.generations} generations). Target fitness or stagnation may stop it sooner.`;
}

/** A large count to three significant digits: 180 k, 1.09 k, 7.68 M, 3.45 G. */
function fmtCount(n) {
  for (const [unit, scale] of [['G', 1e9], ['M', 1e6], ['k', 1e3]]) {
    if (n >= scale) return `${Number((n / scale).toPrecision(3))} ${unit}`;
  }
  return String(Math.round(n));
}
