// The submit form: a few convenient fields kept in sync with a JSON spec editor, and a sweep
// editor (views/axes.js) that turns the spec into one job per combination of its axes. Server
// validation errors (422: every problem, each with its `field`) appear next to the field they
// name and in a list at the top.

import { api, ApiError, jobUrl } from '../api.js';
import { h, replace, hashQuery, toast, throttle, fmtDuration, fitnessNote, fitnessExplained } from '../util.js';
import { specSchema } from '../schema.js';
import { axesEditor, combinations, comboLabel } from './axes.js';

// The presets are the spec files in examples/, served by GET /api/v1/examples: file -> spec.
const PRESETS = new Map();
/** The example a new form opens on: a short run that visibly learns. */
const FIRST_RUN = 'cartpole-quick.json';
/** Above this, the form warns before a run (or a sweep) is queued: an hour is not a first try. */
const LONG_RUN_SECONDS = 3600;
// Labels of the strategy options the words of their keys do not say well.
const OPTION_LABELS = { lr_mean: 'Learning rate of the mean', lr_sigma: 'Learning rate of σ', sigma_decay: 'σ decay', sigma_limit: 'σ floor', learning_rate_limit: 'Learning rate floor' };

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
  let strategyOptions = []; // the schema's, once it arrives: { key, path, strategies }
  const controller = new AbortController();
  const errorSlots = new Map(); // path -> { slot, input }
  const from = hashQuery().get('from'); // a clone: the id of the job whose spec the form opens on

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

  /** A labelled input for the spec field at `path`, kept in sync with the JSON. */
  function makeField(path, label, kind, extra = {}) {
    const id = idFor(path);
    let input;
    if (kind === 'select') {
      input = h('select', { id, name: path }); // options: the server's schema (below)
    } else if (kind === 'bool') {
      input = h('input', { id, name: path, type: 'checkbox' });
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
    if (extra.nullable) input.dataset.nullable = 'true';
    inputs.set(path, input);
    const slot = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
    errorSlots.set(path, { slot, input });
    const labelEl = h('label', { for: id, text: label, title: extra.title });
    const field = kind === 'bool'
      ? h('div', { class: 'field field-check', dataset: { field: path } }, h('span', { class: 'check' }, input, labelEl), slot)
      : h('div', { class: 'field', dataset: { field: path } }, labelEl, input, slot);
    input.addEventListener('input', () => {
      setPath(spec, path, readInput(input));
      clearError(path);
      // Another strategy: its options replace the last one's, in the fields and the JSON.
      if (path === 'strategy.name') fitStrategy();
      writeJson();
      if (path === 'strategy.name') writeFields();
    });
    input.addEventListener('change', () => writeFields());
    return field;
  }
  const fieldEls = fields.map(([path, label, kind, extra]) => makeField(path, label, kind, extra));

  // The options only some strategies read (src/evolution/strategies): shown for the strategy
  // chosen only, so that a clone shows the options of its own strategy and no other's.
  const strategyLegend = h('legend', { id: 'strategy-options-title', text: 'Strategy options' });
  const strategyGrid = h('div', { class: 'grid-fields' });
  const strategyBox = h('fieldset', { class: 'strategy-options', id: 'strategy-options', hidden: true }, strategyLegend, strategyGrid);

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
  // The run-time estimate: the server's (POST /jobs/estimate) for the spec as it stands, from
  // this server's measured throughput or, before anything ran here, a built-in figure.
  const estimateBox = h('p', { class: 'estimate', id: 'run-estimate', role: 'status', 'aria-live': 'polite' }, 'Estimating the run time…');
  const estimateWarning = h('p', { class: 'estimate-warning', id: 'estimate-warning', role: 'alert', hidden: true });
  // Every problem the server found, listed where the eye lands first; each links to its field.
  const errorList = h('ul');
  const errorTitle = h('h2', { id: 'form-errors-title' });
  const errorSummary = h('div', { class: 'error-summary', id: 'form-errors', role: 'alert', 'aria-labelledby': 'form-errors-title', hidden: true }, errorTitle, errorList);
  const sweep = axesEditor({ onChange: sweepChanged });

  // While the JSON cannot be read, the fields cannot show it: they say so and wait, rather
  // than show the last values that could be read.
  const staleNote = h('p', { class: 'field-error', id: 'fields-stale', hidden: true },
    'The fields follow the JSON spec, which is not valid JSON right now: fix it to edit them here.');
  const form = h('form', { class: 'submit-form', id: 'job-form', novalidate: true },
    errorSummary,
    h('div', { class: 'form-column' },
      h('section', { class: 'card form-fields', 'aria-labelledby': 'fields-title' },
        h('div', { class: 'card-head' }, h('h2', { id: 'fields-title', text: 'Settings' }),
          h('div', { class: 'preset' }, h('label', { for: 'spec-preset', class: 'sr-only', text: 'Preset' }), presetSelect, resetButton)),
        staleNote,
        h('div', { class: 'grid-fields' }, fieldEls.slice(0, 2)),
        envFieldset,
        h('div', { class: 'grid-fields' }, fieldEls.slice(2)),
        strategyBox,
        estimateBox,
        estimateWarning,
        formFitness),
      sweep.element),
    h('section', { class: 'card form-json', 'aria-labelledby': 'json-title' },
      h('div', { class: 'card-head' }, h('h2', { id: 'json-title' }, h('label', { for: 'spec-json', text: 'Job spec (JSON)' }))),
      h('p', { class: 'muted small', id: 'spec-json-help' }, 'Every field of the spec (of the strategy\'s options, those its strategy reads); the settings on the left edit it too. Only ', h('code', { text: 'envs' }), ' is required — a removed field takes its default.'),
      jsonArea, jsonSlot),
    h('div', { class: 'form-actions' }, formStatus, h('a', { href: '#/', class: 'btn', text: 'Back to jobs' }), submitButton));

  replace(root, h('div', { class: 'page-head' }, heading), form);

  function readInput(input) {
    const raw = input.value;
    switch (input.dataset.kind) {
      case 'tags':
        return raw.split(',').map((t) => t.trim()).filter(Boolean);
      case 'bool':
        return input.checked;
      case 'int':
      case 'float': {
        // A blank optional number is `null`: the default the server works out (lr_sigma).
        if (raw.trim() === '') return input.dataset.nullable ? null : undefined;
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

  /** The strategy a spec runs: its own, else the server's default. */
  function strategyOf(s) {
    return getPath(s, 'strategy.name') ?? getPath(defaults, 'strategy.name');
  }

  // A spec carries the options of its own strategy only: another strategy's (a stored job's
  // spec holds every option, at its default) would read as if they applied. Options put away on
  // a switch of strategy come back on a switch back.
  const putAway = new Map(); // path -> value
  function fitStrategy() {
    if (!spec.strategy || typeof spec.strategy !== 'object' || Array.isArray(spec.strategy)) return;
    const name = strategyOf(spec);
    for (const option of strategyOptions) {
      if (!option.strategies) continue;
      const present = option.key in spec.strategy;
      if (option.strategies.includes(name)) {
        const value = putAway.has(option.path) ? putAway.get(option.path) : getPath(defaults, option.path);
        if (!present && value !== undefined) spec.strategy[option.key] = clone(value);
      } else if (present) {
        putAway.set(option.path, spec.strategy[option.key]);
        delete spec.strategy[option.key];
      }
    }
  }

  /** Shows the strategy options the chosen strategy reads, hides the others'. */
  function showStrategyOptions() {
    const name = strategyOf(spec);
    let shown = 0;
    for (const option of strategyOptions) {
      const field = inputs.get(option.path)?.closest('.field');
      if (!field || !strategyGrid.contains(field)) continue;
      field.hidden = Boolean(option.strategies) && !option.strategies.includes(name);
      if (!field.hidden) shown += 1;
    }
    strategyLegend.textContent = `Options of ${name}`;
    strategyBox.dataset.strategy = String(name);
    strategyBox.hidden = shown === 0;
  }

  let estimateToken = 0;
  /** The server's estimate for `body`: `{result}` or `{error}` (null when aborted). */
  async function estimateOf(body) {
    try {
      return { result: await api('/jobs/estimate', { method: 'POST', body, signal: controller.signal }) };
    } catch (e) {
      if (e.name === 'AbortError') return null;
      return { error: e };
    }
  }

  async function estimate() {
    const token = ++estimateToken;
    const plan = sweep.plan();
    const single = estimateOf(spec);
    // The sweep's jobs cost what their variant costs: every seed of one variant runs alike.
    const variants = plan.count && !plan.errors.length && plan.count <= plan.limits.jobs
      ? combinations(Object.fromEntries(Object.entries(plan.axes).filter(([path]) => path !== 'seed')))
      : [];
    const perVariant = Promise.all(variants.map((values) => {
      const body = clone(spec);
      for (const [path, value] of Object.entries(values)) setPath(body, path, value);
      return estimateOf(body);
    }));
    const answer = await single;
    if (!answer || token !== estimateToken) return;
    showSingle(answer);
    const answers = await perVariant;
    if (answers.some((a) => !a) || token !== estimateToken) return;
    showSweep(plan, variants, answers);
  }

  function showSingle({ result, error }) {
    let text;
    let seconds = '';
    if (result) {
      text = estimateText(result);
      seconds = result.seconds_upper ?? '';
    } else {
      const e = error;
      text = e instanceof ApiError && e.status === 422
        ? `No run-time estimate until the spec is valid (${problemsText(e)}).`
        : `No run-time estimate: ${e.message}`;
    }
    estimateBox.textContent = text;
    estimateBox.dataset.seconds = String(seconds);
    estimateBox.dataset.steps = String(result?.total_steps ?? '');
    estimateBox.dataset.rate = String(result ? rateOf(result) ?? '' : '');
    estimateBox.dataset.source = result?.throughput_source ?? (result?.executor?.measured ? 'measured' : '');
    const long = seconds !== '' && seconds > LONG_RUN_SECONDS;
    estimateWarning.hidden = !long;
    estimateWarning.textContent = long
      ? `This run may take ${fmtDuration(seconds)}, more than an hour. For a first run, try fewer generations, a smaller population or fewer episodes (the preset ${FIRST_RUN} takes minutes).`
      : '';
  }

  /** The whole sweep: every variant's estimate times its seeds. */
  function showSweep(plan, variants, answers) {
    if (!plan.count) return sweep.showEstimate(null);
    if (!variants.length) return sweep.showEstimate({ text: 'No estimate of the whole sweep until its axes are complete and within the limit.' });
    const failed = answers.findIndex((a) => a.error);
    if (failed >= 0) {
      const e = answers[failed].error;
      const which = comboLabel(variants[failed]);
      return sweep.showEstimate({ text: `No estimate of the whole sweep: ${which ? `with ${which}, ` : ''}${e instanceof ApiError ? problemsText(e) : e.message}.` });
    }
    const each = answers.map((a) => a.result.seconds_upper);
    if (each.some((s) => s === null || s === undefined)) {
      return sweep.showEstimate({ text: `${plan.count} jobs; no run-time estimate for them on this server yet.` });
    }
    const seeds = plan.axes.seed?.length ?? 1;
    const total = seeds * each.reduce((a, b) => a + b, 0);
    const bounded = answers.some((a) => !a.result.exact_steps || a.result.capped_by_wall_clock);
    const lo = Math.min(...each);
    const hi = Math.max(...each);
    const perJob = lo === hi ? `${bounded ? 'at most' : '≈'} ${fmtDuration(lo)} each` : `${fmtDuration(lo)} to ${fmtDuration(hi)} each`;
    const workers = answers[0].result.executor?.workers ?? 1;
    const wall = workers > 1 ? `; with this server's ${workers} workers, about ${fmtDuration(total / workers)} of wall-clock time` : `, one after another on this server's worker`;
    const time = `${bounded ? 'at most' : '≈'} ${fmtDuration(total)}`;
    sweep.showEstimate({
      text: `Whole sweep: ${time} of run time for ${plan.count} jobs (${perJob})${wall}.`,
      seconds: total,
      warning: total > LONG_RUN_SECONDS
        ? `The whole sweep may take ${fmtDuration(total)} of run time, more than an hour: fewer values, seeds or generations make it shorter.`
        : null,
    });
  }

  // The fitness line names the spec's `combine` as it is edited.
  const estimateSoon = throttle(() => {
    formFitness.textContent = fitnessExplained(spec);
    estimate();
  }, 400);

  function sweepChanged() {
    const { count } = sweep.plan();
    submitButton.textContent = count ? `Submit sweep (${count} ${count === 1 ? 'job' : 'jobs'})` : 'Submit job';
    heading.textContent = count ? 'New sweep' : from ? 'New job from a copy' : 'New job';
    estimateSoon();
  }

  function writeFields() {
    for (const [path, input] of inputs) {
      if (document.activeElement === input) continue;
      const v = getPath(spec, path);
      const fallback = getPath(defaults, path);
      if (input.dataset.kind === 'tags') input.value = Array.isArray(v) ? v.join(', ') : '';
      else if (input.dataset.kind === 'bool') input.checked = Boolean(v ?? fallback);
      else if (input.tagName === 'SELECT') input.value = v ?? fallback ?? '';
      else input.value = v === undefined || v === null ? '' : String(v);
    }
    const names = new Set((Array.isArray(spec.envs) ? spec.envs : []).map((e) => (typeof e === 'string' ? e : e?.name)));
    for (const box of envBox.querySelectorAll('input[type=checkbox]')) box.checked = names.has(box.value);
    showStrategyOptions();
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

  /** A fresh spec in the form: the JSON and the fields show it, without the last one's errors. */
  function load(next) {
    spec = next;
    putAway.clear();
    fitStrategy();
    clearAllErrors();
    writeJson();
    writeFields();
  }

  presetSelect.addEventListener('change', () => {
    const preset = PRESETS.get(presetSelect.value);
    if (preset) load(mergePatch(clone(defaults), preset));
  });
  resetButton.addEventListener('click', () => {
    presetSelect.value = '';
    load(firstRun());
  });

  function slotFor(field) {
    // `envs[0].name` -> `envs`, `strategy.popsize` -> `strategy.popsize`; the longest known
    // prefix wins; anything else goes to the JSON editor.
    const plain = (field || '').replace(/\[\d+\]/g, '');
    let best = '';
    for (const path of errorSlots.keys()) {
      if (path && (plain === path || plain.startsWith(`${path}.`)) && path.length > best.length) best = path;
    }
    // A field hidden (another strategy's option) cannot show it: the JSON editor does.
    if (best && errorSlots.get(best).input.closest('.field')?.hidden) return '';
    return best;
  }

  function showError(field, message, { local = false } = {}) {
    const path = local ? '' : slotFor(field);
    const { slot, input } = errorSlots.get(path);
    const text = path === '' && field ? `${field}: ${message}` : message;
    // A field with several problems (`envs[0]`, `envs[1]`) lists them one a line.
    slot.textContent = slot.hidden || !slot.textContent ? text : `${slot.textContent}\n${text}`;
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
    errorSummary.hidden = true;
    replace(errorList);
    sweep.clearErrors();
  }

  /**
   * Every problem of a 422 at its field, and all of them in the list at the top; the first
   * one's field takes the focus. For a sweep, `spec.<field>` is the spec's field and `axes.…`
   * the sweep editor's.
   */
  function showErrors(e, { isSweep = false } = {}) {
    const shown = e.errors.map(({ field = '', message = '' }) => {
      let input = isSweep ? sweep.showError(field, message) : null;
      if (!input) input = showError(isSweep ? field.replace(/^spec(\.|$)/, '') : field, message);
      return { field, message, input };
    });
    errorTitle.textContent = shown.length === 1
      ? 'The server rejected the spec: 1 problem'
      : `The server rejected the spec: ${shown.length} problems`;
    replace(errorList, shown.map(({ field, message, input }) => {
      const go = h('button', { type: 'button', class: 'link-button', dataset: { field }, text: field || 'spec' });
      go.addEventListener('click', () => input.focus());
      return h('li', { dataset: { field } }, go, `: ${message}`);
    }));
    errorSummary.hidden = false;
    formStatus.textContent = shown.length === 1
      ? 'The server rejected the spec; see the highlighted field.'
      : `The server rejected the spec; see the ${shown.length} highlighted problems.`;
    shown[0]?.input.focus();
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
    const plan = sweep.plan();
    if (plan.errors.length || plan.count > plan.limits.jobs) {
      formStatus.className = 'form-status error';
      formStatus.textContent = plan.errors.length ? 'The sweep\'s axes are not complete; see the sweep.' : 'The sweep has more jobs than the server takes in one.';
      (plan.errors[0]?.input ?? sweep.element.querySelector('input'))?.focus();
      return;
    }
    submitButton.disabled = true;
    formStatus.textContent = 'Submitting…';
    try {
      if (plan.count) {
        const created = await api('/sweeps', { method: 'POST', body: { spec: body, axes: plan.axes } });
        toast(`Queued the sweep “${created.name}”: ${created.jobs?.length ?? plan.count} jobs.`);
        location.hash = `#/sweeps/${encodeURIComponent(created.id)}`;
      } else {
        const job = await api('/jobs', { method: 'POST', body });
        toast(`Queued “${job.name}”.`);
        location.hash = jobUrl(job.id);
      }
    } catch (e) {
      formStatus.className = 'form-status error';
      if (e instanceof ApiError && e.status === 422) {
        showErrors(e, { isSweep: plan.count > 0 });
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
    strategyOptions = schema.strategyOptions();
    for (const option of strategyOptions) {
      if (inputs.has(option.path)) continue; // popsize, sigma0: fields of their own above
      const kind = schema.kind(option.path);
      if (!kind) continue;
      const type = { boolean: 'bool', integer: 'int', number: 'float', enum: 'select' }[kind.type] ?? 'text';
      const label = OPTION_LABELS[option.key] ?? option.key.charAt(0).toUpperCase() + option.key.slice(1).replace(/_/g, ' ');
      strategyGrid.append(makeField(option.path, label, type, {
        step: 'any',
        nullable: kind.nullable,
        placeholder: kind.nullable ? 'blank: the server works it out' : null,
        title: option.description,
      }));
      inputs.get(option.path).closest('.field').dataset.strategies = option.strategies?.join(' ') ?? '';
    }
    for (const [path, input] of inputs) {
      const choices = schema.choices(path);
      if (input.tagName === 'SELECT' && choices) {
        replace(input, choices.map((o) => h('option', { value: o, text: o })));
      }
      const { min, max } = schema.bounds(path);
      if (min !== undefined) input.min = String(min);
      if (max !== undefined) input.max = String(max);
    }
    sweep.describe(schema);
  }

  writeJson();
  writeFields();
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
      const copy = mergePatch(clone(defaults), job.spec || {});
      copy.name = job.name ? `${job.name} (copy)` : '';
      heading.textContent = 'New job from a copy';
      load(copy);
    } else {
      load(firstRun());
    }
    root.querySelector('#job-form')?.setAttribute('data-ready', 'true');
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

/** A 422's problems in a line: `field: message; field: message`. */
function problemsText(e) {
  return e.errors.map((p) => (p.field ? `${p.field}: ${p.message}` : p.message)).join('; ');
}

function describeAction(space) {
  if (space?.kind === 'discrete') return `${space.n} actions`;
  if (space?.kind === 'continuous') return `action in [${space.low}, ${space.high}]`;
  return '';
}

/** The estimate in words: a time, where it comes from, and what bounds it. */
function estimateText(e) {
  const steps = fmtCount(e.total_steps);
  const kind = e.exact_steps ? 'SFNN steps' : 'SFNN steps at most (episodes end early on done)';
  const ex = e.executor;
  if (!ex) return `${steps} ${kind}; this server runs no worker for the spec's executor, so no run-time estimate.`;
  if (e.seconds_upper === null || e.seconds_upper === undefined) {
    // A server without a built-in figure for this executor says nothing until a job ran here.
    return `${steps} ${kind}; no throughput measured yet on this server (${ex.name}, ${ex.device}): `
      + 'the estimate appears once a job has run here (sfnn bench measures one too).';
  }
  const time = fmtDuration(e.seconds_upper);
  const when = e.capped_by_wall_clock
    ? `at most ${time} (stop.max_wall_seconds)`
    : e.exact_steps ? `≈ ${time}` : `at most ${time} (upper bound: every episode to its horizon; those that end on done make it shorter)`;
  const rate = rateOf(e);
  const at = rate ? ` at ${fmtCount(rate)} steps/s` : '';
  const source = e.throughput_source === 'built_in' || !ex.measured
    ? `estimated from a built-in figure for the ${ex.name.toUpperCase()} executor, as nothing has run on this server yet (${ex.device}); the first run's measured throughput replaces it`
    : `from this server's measured throughput (${ex.name}, ${ex.device}, last ${ex.measured.generations} generations)`;
  return `Run time ${when} — ${steps} ${kind}${at}, ${source}. Target fitness or stagnation may stop it sooner.`;
}

/** The throughput (steps/s) an estimate divides by: the measured one, else what its time
 * implies (a built-in figure), or null where a wall-clock cap hides it. */
function rateOf(e) {
  const measured = e.executor?.measured?.steps_per_s;
  if (e.throughput_source !== 'built_in' && measured) return measured;
  if (e.throughput_source === 'built_in' && e.executor?.built_in_steps_per_s) return e.executor.built_in_steps_per_s;
  if (e.capped_by_wall_clock || !(e.seconds_upper > 0)) return null;
  return e.total_steps / e.seconds_upper;
}

/** A large count to three significant digits: 180 k, 1.09 k, 7.68 M, 3.45 G. */
function fmtCount(n) {
  for (const [unit, scale] of [['G', 1e9], ['M', 1e6], ['k', 1e3]]) {
    if (n >= scale) return `${Number((n / scale).toPrecision(3))} ${unit}`;
  }
  return String(Math.round(n));
}
