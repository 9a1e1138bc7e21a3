// Small DOM and formatting helpers shared by the views.

/**
 * Creates an element. `attrs` keys: `class`, `text`, `dataset` (object), `on` (object of
 * event handlers), anything else becomes an attribute (`false`/`null` leave it out, `true`
 * sets it empty). Children may be nodes, strings, numbers, arrays or null.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'on') {
      for (const [event, handler] of Object.entries(value)) el.addEventListener(event, handler);
    } else if (key === 'value' && 'value' in el) el.value = value;
    else if (key === 'checked' || key === 'selected' || key === 'disabled') el[key] = Boolean(value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces every child of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export function fmtNum(value, digits = 4) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  if (!Number.isFinite(value)) return value > 0 ? '∞' : '−∞';
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e6 || abs < 1e-3)) return value.toExponential(2);
  return Number(value.toPrecision(digits)).toString();
}

export function fmtInt(value) {
  if (value === null || value === undefined) return '—';
  return Math.round(value).toLocaleString('en-US');
}

export function fmtRate(perSecond, unit = '') {
  if (perSecond === null || perSecond === undefined || !Number.isFinite(perSecond)) return '—';
  const per = unit ? ` ${unit}/s` : '/s';
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M${per}`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k${per}`;
  return `${perSecond.toFixed(0)}${unit ? ` ${unit}/s` : ' /s'}`;
}

export function fmtDate(ms) {
  if (!ms) return '—';
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function fmtAgo(ms, now = Date.now()) {
  if (!ms) return '—';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** A compute account (a job's, a variant's or a sweep's `compute`) in a few words. */
export function fmtCompute(compute) {
  if (!compute || !(compute.wall_seconds > 0)) return '—';
  const steps = compute.sfnn_steps >= 1e9 ? `${(compute.sfnn_steps / 1e9).toFixed(2)} G`
    : `${(compute.sfnn_steps / 1e6).toFixed(2)} M`;
  return `${fmtDuration(compute.cpu_seconds)} CPU · ${fmtDuration(compute.wall_seconds)} wall · ${steps} SFNN steps`;
}

export const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];

export function statusBadge(status) {
  return h('span', { class: `badge status-${status}`, text: status });
}

// A job recorded elsewhere (`sfnn push`): its history is what was uploaded, not a run here.
export function importedBadge() {
  return h('span', { class: 'badge badge-imported', title: 'recorded elsewhere and uploaded (sfnn push)', text: 'imported' });
}

/** The environment names of a job spec (entries may be names or objects). */
export function envNames(spec) {
  return (spec?.envs || []).map((e) => (typeof e === 'string' ? e : e?.name)).filter(Boolean);
}

const COMBINE_WORDS = { product: 'multiplied', mean: 'averaged', min: 'the lowest one kept' };

/** What fitness is, in one line: the one wording every page shows (src/evolution/fitness.rs).
 * With a job's `spec`, it names that spec's `lifetime.combine`. */
export function fitnessExplained(spec) {
  const combine = spec?.lifetime?.combine;
  const how = COMBINE_WORDS[combine]
    ? `${COMBINE_WORDS[combine]} (combine: ${combine})`
    : 'combined per the spec\'s combine (product by default)';
  return 'Fitness: each episode\'s return scaled to 0 at the environment\'s floor and 1 at its best, '
    + 'weighted over the lifetime\'s episodes (later ones count more by default), then the '
    + `environments' scores ${how}.`;
}

/** [`fitnessExplained`] as a small muted paragraph (`.fitness-note`). */
export function fitnessNote(spec, extra = '') {
  return h('p', { class: 'muted small fitness-note', text: extra ? `${fitnessExplained(spec)} ${extra}` : fitnessExplained(spec) });
}

/** Parses the query string of a hash route (`#/compare?ids=a,b`). */
export function hashQuery() {
  const hash = location.hash || '#/';
  const i = hash.indexOf('?');
  return new URLSearchParams(i >= 0 ? hash.slice(i + 1) : '');
}

/** Calls `fn` at most once per `ms`, always with the latest call eventually honoured. */
export function throttle(fn, ms) {
  let timer = null;
  let pending = false;
  const run = () => {
    timer = null;
    if (pending) {
      pending = false;
      fn();
      timer = setTimeout(run, ms);
    }
  };
  const call = () => {
    pending = true;
    if (!timer) run();
  };
  call.cancel = () => {
    clearTimeout(timer);
    timer = null;
    pending = false;
  };
  return call;
}

let toastId = 0;
/** A short message in the corner; `kind` is `info` or `error`. */
export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const el = h('div', { class: `toast toast-${kind}`, id: `toast-${++toastId}`, text: message });
  box.append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 4000);
}
