// The job list as a run table: columns chosen from the spec and the results (remembered in
// this browser), sorted by any of them and filtered per column; filters by status, tag, kind,
// name and sweep; live status and progress (SSE /events); selection with bulk compare, cancel,
// tag and delete.

import { api, stream, jobUrl } from '../api.js';
import { h, replace, fmtNum, fmtAgo, fmtDate, fmtDuration, fmtCompute, statusBadge, importedBadge, envNames, hashQuery, STATUSES, toast, throttle, fitnessNote } from '../util.js';

const PAGE = 50;
const ACTIVE = new Set(['queued', 'running']);
const DEFAULT_SORT = '-created';
// The API's sort keys, and the direction a first click picks: the server sorts by these
// across every page.
const SORTS = { name: 'name', status: 'status', generation: '-generation', best: '-best', created: '-created' };
const COLUMNS_KEY = 'sfnn.jobs.columns';

/** The value of a spec field of an evolution job (evaluation jobs have other specs). */
const evolve = (pick) => (job) => (job.kind === 'evolve' ? pick(job.spec || {}) ?? null : null);

/**
 * The columns a user can show. `value` is what a column sorts and filters by; `fill(td, job)`
 * draws its cell (kept between live updates); `sort` is the API's key where the server sorts
 * by the column (across every page), else the rows loaded are sorted here; `first` is the
 * direction of a first click.
 */
const COLUMNS = [
  { key: 'name', label: 'Job', sort: 'name', cls: 'job-name', value: (j) => j.name, fill: fillName },
  { key: 'status', label: 'Status', sort: 'status', cls: 'status-cell', value: (j) => j.status, fill: fillStatus },
  { key: 'progress', label: 'Progress', sort: 'generation', cls: 'col-progress', value: (j) => j.generation, fill: fillProgress },
  { key: 'best', label: 'Best fitness', sort: 'best', cls: 'num best', value: (j) => j.best_fitness, text: (j) => fmtNum(j.best_fitness) },
  { key: 'setup', label: 'Set-up', cls: 'setup', first: 'asc', value: setupText, fill: fillSetup },
  { key: 'strategy', label: 'Strategy', first: 'asc', value: evolve((s) => s.strategy?.name), mono: true },
  { key: 'popsize', label: 'Population', first: 'asc', num: true, value: evolve((s) => s.strategy?.popsize) },
  { key: 'sigma0', label: 'σ0', first: 'asc', num: true, value: evolve((s) => s.strategy?.sigma0) },
  { key: 'seed', label: 'Seed', first: 'asc', num: true, value: evolve((s) => s.seed) },
  { key: 'episodes', label: 'Episodes', first: 'asc', num: true, value: (j) => (j.kind === 'evolve' ? j.spec?.lifetime?.episodes : j.spec?.episodes) ?? null },
  { key: 'envs', label: 'Environments', first: 'asc', value: (j) => (j.kind === 'evolve' ? envNames(j.spec) : (j.spec?.envs || [])).join(', ') || null },
  { key: 'generations', label: 'Generations', first: 'desc', num: true, value: (j) => j.generations },
  { key: 'compute', label: 'Compute', first: 'desc', num: true, cls: 'compute', value: (j) => (j.compute?.wall_seconds > 0 ? j.compute.wall_seconds : null), fill: fillCompute },
  { key: 'variant', label: 'Sweep variant', first: 'asc', value: variantText, mono: true },
  { key: 'created', label: 'Created', sort: 'created', cls: 'created', value: (j) => j.created_at, fill: fillCreated },
];
const BY_KEY = new Map(COLUMNS.map((c) => [c.key, c]));
const DEFAULT_COLUMNS = ['name', 'status', 'progress', 'best', 'setup', 'created'];
/** The URL's sort key of a column: the API's where the server sorts by it, else its own. */
const sortKeyOf = (column) => column.sort || column.key;
const CLIENT_SORTS = new Map(COLUMNS.filter((c) => !c.sort).map((c) => [c.key, c]));

export function jobsView(root, { setConnection }) {
  const rows = new Map(); // id -> { job, tr, cells }
  const selected = new Set();
  let nextCursor = null;
  let loadToken = 0;
  let filters = readFilters();
  let shown = readColumns();
  const columnFilters = new Map(); // column key -> text (this page's, not the address's)

  const statusSelect = h('select', { id: 'filter-status', name: 'status' },
    h('option', { value: '', text: 'any status' }),
    STATUSES.map((s) => h('option', { value: s, text: s })));
  const kindSelect = h('select', { id: 'filter-kind', name: 'kind' },
    h('option', { value: '', text: 'any kind' }),
    h('option', { value: 'evolve', text: 'evolution' }),
    h('option', { value: 'evaluate', text: 'evaluation' }));
  const sweepSelect = h('select', { id: 'filter-sweep', name: 'sweep' }, h('option', { value: '', text: 'any or none' }));
  const tagInput = h('input', { id: 'filter-tag', name: 'tag', type: 'search', placeholder: 'e.g. paper', maxlength: 64, autocomplete: 'off' });
  const searchInput = h('input', { id: 'filter-q', name: 'q', type: 'search', placeholder: 'part of a name', maxlength: 200, autocomplete: 'off' });

  const setFilterInputs = () => {
    statusSelect.value = filters.status;
    kindSelect.value = filters.kind;
    tagInput.value = filters.tag;
    searchInput.value = filters.q;
    // A sweep not among the listed ones (older than the newest 100) still shows as chosen.
    if (filters.sweep && ![...sweepSelect.options].some((o) => o.value === filters.sweep)) {
      sweepSelect.append(h('option', { value: filters.sweep, text: `sweep ${filters.sweep.slice(0, 8)}` }));
    }
    sweepSelect.value = filters.sweep;
  };
  setFilterInputs();

  const pushFilters = () => {
    const q = new URLSearchParams();
    const values = { q: searchInput.value.trim(), status: statusSelect.value, tag: tagInput.value.trim(), kind: kindSelect.value, sweep: sweepSelect.value, sort: filters.sort };
    for (const key of ['q', 'status', 'tag', 'kind', 'sweep', 'sort']) {
      if (values[key] && !(key === 'sort' && values[key] === DEFAULT_SORT)) q.set(key, values[key]);
    }
    const target = q.toString() ? `#/?${q}` : '#/';
    if (location.hash !== target) location.hash = target;
  };
  statusSelect.addEventListener('change', pushFilters);
  kindSelect.addEventListener('change', pushFilters);
  sweepSelect.addEventListener('change', pushFilters);
  let tagTimer = null;
  for (const input of [tagInput, searchInput]) {
    input.addEventListener('input', () => {
      clearTimeout(tagTimer);
      tagTimer = setTimeout(pushFilters, 400);
    });
  }

  // ---- columns: chosen here, remembered in this browser ----
  const columnPicker = h('details', { class: 'column-picker', id: 'job-columns' },
    h('summary', { class: 'btn' }, 'Columns'),
    h('fieldset', { class: 'column-choices' },
      h('legend', { class: 'small muted', text: 'Columns shown' }),
      COLUMNS.map((c) => h('label', { class: 'check small' },
        h('input', {
          type: 'checkbox', id: `column-${c.key}`, value: c.key, checked: shown.includes(c.key),
          on: { change: (e) => setColumns(e.target.checked ? [...shown, c.key] : shown.filter((k) => k !== c.key)) },
        }),
        ` ${c.label}`))));

  function setColumns(keys) {
    // In the table's own order, and never none (the rows would be blank).
    shown = COLUMNS.map((c) => c.key).filter((k) => keys.includes(k));
    if (!shown.length) shown = ['name'];
    for (const box of columnPicker.querySelectorAll('input[type=checkbox]')) box.checked = shown.includes(box.value);
    try {
      localStorage.setItem(COLUMNS_KEY, JSON.stringify(shown));
    } catch {
      // Storage refused (private mode, full): the choice lasts for this page only.
    }
    for (const key of [...columnFilters.keys()]) if (!shown.includes(key)) columnFilters.delete(key);
    renderHead();
    for (const entry of rows.values()) rerenderRow(entry);
    applyView();
  }

  // ---- header: sortable columns and a filter per column ----
  const thead = h('thead');
  const sortHeads = new Map(); // sort key -> { th, arrow }
  function renderHead() {
    sortHeads.clear();
    const heads = shown.map((key) => {
      const c = BY_KEY.get(key);
      const sortKey = sortKeyOf(c);
      const arrow = h('span', { class: 'sort-arrow', 'aria-hidden': 'true' });
      const th = h('th', { scope: 'col', class: [c.cls, c.num ? 'num' : null].filter(Boolean).join(' ') || null, dataset: { column: key } },
        h('button', { type: 'button', class: 'sort-button', dataset: { sort: sortKey }, on: { click: () => sortBy(c) } }, c.label, arrow));
      sortHeads.set(sortKey, { th, arrow });
      return th;
    });
    const filterCells = shown.map((key) => {
      const c = BY_KEY.get(key);
      const input = h('input', {
        type: 'search', class: 'column-filter', id: `column-filter-${key}`, value: columnFilters.get(key) || '',
        'aria-label': `Filter by ${c.label}`, placeholder: c.num ? '> 0.5' : 'contains', autocomplete: 'off',
        title: 'Text the cell contains, or for numbers a comparison: > 0.5, <= 10, = 4',
      });
      input.addEventListener('input', () => {
        if (input.value.trim()) columnFilters.set(key, input.value.trim());
        else columnFilters.delete(key);
        applyView();
      });
      return h('td', { dataset: { column: key } }, input);
    });
    replace(thead,
      h('tr', {},
        h('th', { scope: 'col', class: 'col-select' }, selectAll),
        heads,
        h('th', { scope: 'col', class: 'col-actions' }, h('span', { class: 'sr-only', text: 'Actions' }))),
      h('tr', { class: 'filter-row' }, h('td', { class: 'col-select' }), filterCells, h('td', { class: 'col-actions' })));
    emptyCell.colSpan = shown.length + 2;
    showSort();
  }

  // A column header sorts by its column; a second click turns the order round.
  function sortBy(column) {
    const key = sortKeyOf(column);
    const current = filters.sort.replace(/^-/, '');
    if (current === key) filters.sort = filters.sort.startsWith('-') ? key : `-${key}`;
    else filters.sort = column.sort ? SORTS[key] : (column.first === 'desc' ? `-${key}` : key);
    pushFilters();
  }

  const showSort = () => {
    const key = filters.sort.replace(/^-/, '');
    const descending = filters.sort.startsWith('-');
    for (const [k, { th, arrow }] of sortHeads) {
      if (k === key) th.setAttribute('aria-sort', descending ? 'descending' : 'ascending');
      else th.removeAttribute('aria-sort');
      arrow.textContent = k === key ? (descending ? ' ▼' : ' ▲') : '';
    }
  };
  /** The column sorted here (rows loaded only), or null where the server sorts. */
  const clientSort = () => CLIENT_SORTS.get(filters.sort.replace(/^-/, '')) || null;

  const cancelMatching = h('button', { type: 'button', class: 'btn btn-danger-outline', id: 'cancel-matching' }, 'Cancel all matching…');
  const cancelSelected = h('button', { type: 'button', class: 'btn btn-danger-outline', id: 'cancel-selected', disabled: true }, 'Cancel selected');
  const tagSelected = h('button', { type: 'button', class: 'btn', id: 'tag-selected', disabled: true }, 'Tag selected…');
  const deleteSelected = h('button', { type: 'button', class: 'btn btn-danger-outline', id: 'delete-selected', disabled: true }, 'Delete selected…');
  const compareSelected = h('button', { type: 'button', class: 'btn', id: 'compare-selected', disabled: true }, 'Compare selected');
  const selectAll = h('input', { type: 'checkbox', id: 'select-all', 'aria-label': 'Select all shown jobs' });

  const tbody = h('tbody');
  const emptyCell = h('td', { colspan: shown.length + 2 }, 'No jobs yet. ', h('a', { href: '#/new', text: 'Submit one' }), '.');
  const emptyRow = h('tr', { class: 'empty-row' }, emptyCell);
  const moreButton = h('button', { type: 'button', class: 'btn', hidden: true }, 'Load more');
  const summary = h('p', { class: 'muted', 'aria-live': 'polite' });

  const confirmTitle = h('h2', { id: 'confirm-title', text: 'Cancel jobs' });
  const confirmText = h('p', { id: 'confirm-text' });
  const confirmButton = h('button', { value: 'yes', class: 'btn btn-danger', text: 'Cancel jobs' });
  const dialog = h('dialog', { class: 'dialog', id: 'confirm-dialog', 'aria-labelledby': 'confirm-title' },
    h('form', { method: 'dialog' },
      confirmTitle,
      confirmText,
      h('div', { class: 'actions' },
        h('button', { value: 'keep', class: 'btn', text: 'Keep them' }),
        confirmButton)));

  const tagsInput = h('input', { type: 'text', id: 'bulk-tags', maxlength: 2000, autocomplete: 'off', placeholder: 'e.g. paper, baseline' });
  const tagText = h('p', { id: 'tag-dialog-text' });
  const tagDialog = h('dialog', { class: 'dialog', id: 'tag-dialog', 'aria-labelledby': 'tag-dialog-title' },
    h('form', { method: 'dialog' },
      h('h2', { id: 'tag-dialog-title', text: 'Tag jobs' }),
      tagText,
      h('div', { class: 'field' }, h('label', { for: 'bulk-tags', text: 'Tags to add or remove (comma-separated)' }), tagsInput),
      h('div', { class: 'actions' },
        h('button', { value: 'keep', class: 'btn', text: 'Close' }),
        h('button', { value: 'remove', class: 'btn btn-danger-outline', text: 'Remove these tags' }),
        h('button', { value: 'add', class: 'btn btn-primary', text: 'Add these tags' }))));

  replace(root,
    h('div', { class: 'page-head' },
      h('h1', { text: 'Jobs' }),
      h('a', { class: 'btn btn-primary', href: '#/new', text: 'New job' })),
    h('section', { class: 'card' },
      h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter jobs', on: { submit: (e) => { e.preventDefault(); pushFilters(); } } },
        h('div', { class: 'field' }, h('label', { for: 'filter-q', text: 'Search' }), searchInput),
        h('div', { class: 'field' }, h('label', { for: 'filter-status', text: 'Status' }), statusSelect),
        h('div', { class: 'field' }, h('label', { for: 'filter-tag', text: 'Tag' }), tagInput),
        h('div', { class: 'field' }, h('label', { for: 'filter-kind', text: 'Kind' }), kindSelect),
        h('div', { class: 'field' }, h('label', { for: 'filter-sweep', text: 'Sweep' }), sweepSelect),
        h('div', { class: 'spacer' }),
        columnPicker),
      h('div', { class: 'bulk', role: 'group', 'aria-label': 'With the selected jobs' }, compareSelected, tagSelected, cancelSelected, deleteSelected, cancelMatching),
      h('div', { class: 'table-wrap' },
        h('table', { class: 'jobs', id: 'job-table' },
          h('caption', { class: 'sr-only', text: 'Jobs; the column headers sort them, the row under them filters' }),
          thead,
          tbody)),
      h('div', { class: 'table-foot' }, summary, moreButton),
      fitnessNote(null, 'Best fitness is the highest a job has reached so far.')),
    dialog,
    tagDialog);
  renderHead();

  const updateSelection = () => {
    for (const id of [...selected]) if (!rows.has(id)) selected.delete(id);
    const chosen = [...selected].map((id) => rows.get(id).job);
    cancelSelected.disabled = !chosen.some((j) => ACTIVE.has(j.status));
    compareSelected.disabled = chosen.filter((j) => j.kind === 'evolve').length < 1;
    tagSelected.disabled = chosen.length === 0;
    deleteSelected.disabled = chosen.length === 0;
    const visible = [...rows.values()].filter((r) => !r.tr.hidden);
    selectAll.checked = visible.length > 0 && visible.every((r) => selected.has(r.job.id));
    selectAll.indeterminate = selected.size > 0 && !selectAll.checked;
  };

  const matches = (job) =>
    (!filters.q || job.name.toLowerCase().includes(filters.q.toLowerCase())) &&
    (!filters.status || job.status === filters.status) &&
    (!filters.kind || job.kind === filters.kind) &&
    (!filters.tag || job.tags.includes(filters.tag)) &&
    (!filters.sweep || job.sweep?.id === filters.sweep);

  function renderRow(job) {
    const check = h('input', {
      type: 'checkbox', 'aria-label': `Select ${job.name}`, checked: selected.has(job.id),
      on: { change: (e) => { if (e.target.checked) selected.add(job.id); else selected.delete(job.id); updateSelection(); } },
    });
    const actions = h('td', { class: 'col-actions' });
    const cells = new Map(shown.map((key) => {
      const c = BY_KEY.get(key);
      return [key, h('td', { class: [c.cls, c.num ? 'num' : null, c.mono ? 'mono small' : null].filter(Boolean).join(' ') || null, dataset: { column: key } })];
    }));
    const tr = h('tr', { dataset: { jobId: job.id, status: job.status } },
      h('td', { class: 'col-select' }, check), [...cells.values()], actions);
    const entry = { job, tr, cells, parts: { actions, check } };
    fillRow(entry);
    return entry;
  }

  /** Draws a row again with the columns now shown, in its place. */
  function rerenderRow(entry) {
    const fresh = renderRow(entry.job);
    entry.tr.replaceWith(fresh.tr);
    Object.assign(entry, fresh);
  }

  function fillRow(entry) {
    const { job, parts, tr, cells } = entry;
    tr.dataset.status = job.status;
    for (const [key, td] of cells) {
      const c = BY_KEY.get(key);
      if (c.fill) c.fill(td, job);
      else td.textContent = c.text ? c.text(job) : showValue(c.value(job));
    }
    replace(parts.actions, ACTIVE.has(job.status)
      ? h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Cancel ${job.name}`, on: { click: () => cancelOne(job.id) } }, 'Cancel')
      : null);
    filterRow(entry);
  }

  // ---- filtering and sorting of the rows loaded ----
  function passes(entry) {
    for (const [key, text] of columnFilters) {
      const c = BY_KEY.get(key);
      const td = entry.cells.get(key);
      if (!c || !td) continue;
      const m = text.match(/^(<=|>=|<|>|=)\s*(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)$/i);
      const v = c.value(entry.job);
      if (m && (typeof v === 'number' || v === null)) {
        if (v === null) return false;
        const x = Number(m[2]);
        const ok = { '<': v < x, '<=': v <= x, '>': v > x, '>=': v >= x, '=': v === x }[m[1]];
        if (!ok) return false;
      } else if (!td.textContent.toLowerCase().includes(text.toLowerCase())) {
        return false;
      }
    }
    return true;
  }

  function filterRow(entry) {
    entry.tr.hidden = !passes(entry);
  }

  /** Applies the column filters and, for a column the server cannot sort by, the order. */
  function applyView() {
    const column = clientSort();
    if (column) {
      const sign = filters.sort.startsWith('-') ? -1 : 1;
      const ordered = [...rows.values()].sort((a, b) => compareValues(column.value(a.job), column.value(b.job), sign));
      for (const entry of ordered) tbody.append(entry.tr);
    }
    for (const entry of rows.values()) filterRow(entry);
    refreshEmpty();
    updateSelection();
  }

  function upsert(job, { prepend = true } = {}) {
    const existing = rows.get(job.id);
    if (!matches(job)) {
      if (existing) {
        existing.tr.remove();
        rows.delete(job.id);
        refreshEmpty();
      }
      return;
    }
    if (existing) {
      // Keep progress that arrived through `progress` events ahead of the job row.
      if (existing.job.status === job.status && existing.job.generation > job.generation) {
        job = { ...job, generation: existing.job.generation, best_fitness: existing.job.best_fitness };
      }
      existing.job = job;
      fillRow(existing);
    } else if (prepend && !clientSort() && filters.sort !== DEFAULT_SORT) {
      // A new job's place in another order is the server's to say.
      reload();
      return;
    } else {
      const entry = renderRow(job);
      rows.set(job.id, entry);
      if (prepend) tbody.prepend(entry.tr);
      else tbody.append(entry.tr);
      if (prepend && clientSort()) applyView();
      refreshEmpty();
    }
    updateSelection();
  }

  function refreshEmpty() {
    if (rows.size === 0) {
      tbody.replaceChildren(emptyRow);
    } else {
      emptyRow.remove();
    }
    const visible = [...rows.values()].filter((r) => !r.tr.hidden);
    const active = visible.filter((r) => ACTIVE.has(r.job.status)).length;
    const hiddenCount = rows.size - visible.length;
    const column = clientSort();
    summary.textContent = `${visible.length} job${visible.length === 1 ? '' : 's'} shown${active ? `, ${active} queued or running` : ''}`
      + `${hiddenCount ? `; ${hiddenCount} loaded hidden by the column filters` : ''}`
      + `${column ? `; sorted by ${column.label} among the jobs loaded` : ''}.`;
    // Bulk cancel matches status, tag, kind and sweep: never let it reach past a name search.
    cancelMatching.disabled = (Boolean(filters.status) && !ACTIVE.has(filters.status)) || Boolean(filters.q);
  }

  async function load(append = false) {
    const token = ++loadToken;
    const q = new URLSearchParams({ limit: String(PAGE) });
    for (const key of ['q', 'status', 'tag', 'kind', 'sweep']) if (filters[key]) q.set(key, filters[key]);
    // A column the server cannot sort by is sorted here, over the server's default order.
    if (filters.sort !== DEFAULT_SORT && !clientSort()) q.set('sort', filters.sort);
    showSort();
    if (append && nextCursor) q.set('cursor', nextCursor);
    try {
      const page = await api(`/jobs?${q}`);
      if (token !== loadToken) return;
      if (!append) {
        rows.clear();
        tbody.replaceChildren();
      }
      for (const job of page.jobs) upsert(job, { prepend: false });
      nextCursor = page.next_cursor;
      moreButton.hidden = !nextCursor;
      applyView();
    } catch (e) {
      if (token === loadToken) toast(`Could not load jobs: ${e.message}`, 'error');
    }
  }

  async function loadSweeps() {
    try {
      const sweeps = await api('/sweeps?limit=100');
      for (const option of [...sweepSelect.options]) if (option.value) option.remove();
      sweepSelect.append(...sweeps.map((s) => h('option', { value: s.id, text: `${s.name} (${s.jobs} job${s.jobs === 1 ? '' : 's'})` })));
      setFilterInputs();
    } catch (e) {
      toast(`Could not load the sweeps: ${e.message}`, 'error');
    }
  }

  async function cancelOne(id) {
    try {
      upsert(await api(`/jobs/${id}/cancel`, { method: 'POST' }));
    } catch (e) {
      toast(`Cancel failed: ${e.message}`, 'error');
    }
  }

  function ask(text, { title = 'Cancel jobs', confirm = 'Cancel jobs' } = {}) {
    confirmTitle.textContent = title;
    confirmText.textContent = text;
    confirmButton.textContent = confirm;
    dialog.returnValue = '';
    dialog.showModal();
    return new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue === 'yes'), { once: true }));
  }

  const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

  cancelSelected.addEventListener('click', async () => {
    const ids = [...selected].filter((id) => ACTIVE.has(rows.get(id)?.job.status));
    if (!ids.length || !(await ask(`Cancel ${ids.length} selected job${ids.length === 1 ? '' : 's'}? Running jobs stop at their next generation boundary.`))) return;
    await Promise.all(ids.map(cancelOne));
    toast(`Cancelled ${ids.length} job${ids.length === 1 ? '' : 's'}.`);
  });

  // Tags are replaced whole by PATCH: each job gets its own tags plus (or less) these.
  tagSelected.addEventListener('click', () => {
    const n = selected.size;
    if (!n) return;
    tagText.textContent = `Add tags to, or remove them from, the ${plural(n, 'selected job')}.`;
    tagsInput.value = '';
    tagDialog.returnValue = '';
    tagDialog.showModal();
  });
  tagDialog.addEventListener('close', async () => {
    const how = tagDialog.returnValue;
    const tags = [...new Set(tagsInput.value.split(',').map((t) => t.trim()).filter(Boolean))];
    if (!(how === 'add' || how === 'remove') || !tags.length) return;
    let changed = 0;
    const failures = [];
    for (const id of [...selected]) {
      const job = rows.get(id)?.job;
      if (!job) continue;
      const next = how === 'add' ? [...job.tags, ...tags.filter((t) => !job.tags.includes(t))] : job.tags.filter((t) => !tags.includes(t));
      if (next.length === job.tags.length && next.every((t, i) => t === job.tags[i])) continue;
      try {
        upsert(await api(`/jobs/${id}`, { method: 'PATCH', body: { tags: next } }), { prepend: false });
        changed += 1;
      } catch (e) {
        failures.push(`${job.name}: ${e.message}`);
      }
    }
    const what = how === 'add' ? 'Tagged' : 'Untagged';
    toast(`${what} ${plural(changed, 'job')}.${failures.length ? ` ${plural(failures.length, 'failure')}: ${failures.join('; ')}` : ''}`, failures.length ? 'error' : 'info');
  });

  // A running job cannot be deleted (the server answers 409): those are skipped, and the
  // report says how many and why. A queued one can: it leaves the queue.
  deleteSelected.addEventListener('click', async () => {
    const chosen = [...selected].map((id) => rows.get(id)?.job).filter(Boolean);
    const deletable = chosen.filter((j) => j.status !== 'running');
    const running = chosen.length - deletable.length;
    const skipNote = running ? ` ${plural(running, 'running job')} will be skipped: cancel ${running === 1 ? 'it' : 'them'} first.` : '';
    if (!deletable.length) {
      toast('Nothing to delete: the selected jobs are running; cancel them first.', 'error');
      return;
    }
    const queued = deletable.filter((j) => j.status === 'queued').length;
    const what = queued ? `${plural(deletable.length, 'job')} (${queued} of them queued, which leave the queue)` : plural(deletable.length, 'job');
    if (!(await ask(`Delete ${what} with their histories and genomes? This cannot be undone.${skipNote}`,
      { title: 'Delete jobs', confirm: `Delete ${plural(deletable.length, 'job')}` }))) return;
    let done = 0;
    let skipped = running;
    const failures = [];
    for (const job of deletable) {
      try {
        await api(`/jobs/${job.id}`, { method: 'DELETE' });
        done += 1;
        rows.get(job.id)?.tr.remove();
        rows.delete(job.id);
        selected.delete(job.id);
      } catch (e) {
        // Started since the list was drawn.
        if (e.status === 409) skipped += 1;
        else failures.push(`${job.name}: ${e.message}`);
      }
    }
    refreshEmpty();
    updateSelection();
    const parts = [`Deleted ${plural(done, 'job')}.`];
    if (skipped) parts.push(`Skipped ${plural(skipped, 'running job')}: cancel first.`);
    if (failures.length) parts.push(`${plural(failures.length, 'failure')}: ${failures.join('; ')}`);
    toast(parts.join(' '), failures.length ? 'error' : 'info');
  });

  cancelMatching.addEventListener('click', async () => {
    const parts = [];
    if (filters.status) parts.push(`status ${filters.status}`);
    if (filters.tag) parts.push(`tag “${filters.tag}”`);
    if (filters.kind) parts.push(`kind ${filters.kind}`);
    if (filters.sweep) parts.push(`in sweep ${sweepSelect.selectedOptions[0]?.text ?? filters.sweep}`);
    const which = parts.length ? `every queued or running job with ${parts.join(', ')}` : 'every queued or running job';
    if (!(await ask(`Cancel ${which}? This includes jobs not shown on this page.`))) return;
    const body = {};
    if (filters.status) body.status = filters.status;
    if (filters.tag) body.tag = filters.tag;
    if (filters.kind) body.kind = filters.kind;
    if (filters.sweep) body.sweep = filters.sweep;
    try {
      const { cancelled } = await api('/jobs/cancel', { method: 'POST', body });
      toast(`Cancelled ${cancelled} job${cancelled === 1 ? '' : 's'}.`);
      load();
    } catch (e) {
      toast(`Cancel failed: ${e.message}`, 'error');
    }
  });

  compareSelected.addEventListener('click', () => {
    const ids = [...selected].filter((id) => rows.get(id)?.job.kind === 'evolve');
    location.hash = `#/compare?ids=${ids.join(',')}`;
  });

  selectAll.addEventListener('change', () => {
    for (const [id, entry] of rows) {
      if (entry.tr.hidden) continue;
      if (selectAll.checked) selected.add(id);
      else selected.delete(id);
      entry.parts.check.checked = selectAll.checked;
    }
    updateSelection();
  });

  moreButton.addEventListener('click', () => load(true));

  const reload = throttle(() => load(), 1000);
  const events = stream('/events', {
    job: (job) => upsert(job),
    // Deleted here, in another tab or by a script: the row goes.
    job_deleted: ({ id }) => {
      rows.get(id)?.tr.remove();
      rows.delete(id);
      selected.delete(id);
      refreshEmpty();
      updateSelection();
    },
    progress: (p) => {
      const entry = rows.get(p.job_id);
      if (!entry) return;
      entry.job = {
        ...entry.job,
        generation: Math.max(entry.job.generation, p.generation),
        best_fitness: p.best_so_far ?? entry.job.best_fitness,
        status: entry.job.status === 'queued' ? 'running' : entry.job.status,
      };
      fillRow(entry);
    },
    resync: () => reload(),
  }, (state) => {
    setConnection(state);
    // After a reconnect, events may have been missed.
    if (state === 'live' && rows.size) reload();
  });

  // Relative times stay fresh.
  const clock = setInterval(() => {
    for (const { job, tr } of rows.values()) {
      const time = tr.querySelector('time');
      if (time) time.textContent = fmtAgo(job.created_at);
    }
  }, 30000);

  load();
  loadSweeps();

  const dispose = () => {
    events.close();
    clearInterval(clock);
    clearTimeout(tagTimer);
    reload.cancel();
  };
  dispose.onQuery = () => {
    filters = readFilters();
    setFilterInputs();
    selected.clear();
    load();
  };
  return dispose;
}

// ---- cells ----
function fillName(td, job) {
  replace(td,
    h('a', { href: jobUrl(job.id), text: job.name || job.id.slice(0, 8) }),
    h('div', { class: 'tags' }, job.tags.map((t) => h('span', { class: 'tag', text: t }))));
}

function fillStatus(td, job) {
  replace(td, statusBadge(job.status), job.imported ? importedBadge() : null,
    job.error ? h('span', { class: 'error-dot', title: job.error, 'aria-label': `error: ${job.error}` }, '!') : null);
}

// The bar is kept between updates, so it moves on smoothly.
function fillProgress(td, job) {
  let progress = td.querySelector('progress');
  let text = td.querySelector('.progress-text');
  if (!progress) {
    progress = h('progress', { 'aria-label': `Progress of ${job.name}` });
    text = h('span', { class: 'progress-text' });
    td.append(progress, text);
  }
  progress.max = Math.max(1, job.generations);
  progress.value = Math.min(job.generation, job.generations);
  text.textContent = `${job.generation} / ${job.generations}`;
}

function setupText(job) {
  const spec = job.spec || {};
  return job.kind === 'evolve'
    ? `${envNames(spec).join(', ')} · ${spec.strategy?.name ?? 'cma_es'} × ${spec.strategy?.popsize ?? 128}`
    : `evaluation · ${(spec.envs || []).join(', ')}`;
}

function fillSetup(td, job) {
  if (td.childNodes.length) return; // a spec never changes
  const spec = job.spec || {};
  replace(td, job.kind === 'evolve'
    ? [envNames(spec).join(', '), h('span', { class: 'muted' }, ` · ${spec.strategy?.name ?? 'cma_es'} × ${spec.strategy?.popsize ?? 128}`)]
    : [h('span', { class: 'muted', text: 'evaluation · ' }), (spec.envs || []).join(', ')]);
}

function fillCompute(td, job) {
  const c = job.compute;
  // Short runs in tenths: "0 s" would read as nothing spent.
  const time = (s) => (s < 10 ? `${Number(s.toPrecision(2))} s` : fmtDuration(s));
  td.textContent = c?.wall_seconds > 0 ? `${time(c.wall_seconds)} wall · ${time(c.cpu_seconds)} CPU` : '—';
  td.title = fmtCompute(c);
}

function fillCreated(td, job) {
  replace(td, h('time', { datetime: new Date(job.created_at).toISOString(), title: fmtDate(job.created_at), text: fmtAgo(job.created_at) }));
}

/** A job's sweep variant (its sweep's axis values less the seed), as the sweep page names it. */
function variantText(job) {
  const v = job.sweep?.variant;
  if (!v) return null;
  const entries = Object.entries(v);
  return entries.length ? entries.map(([k, x]) => `${k}=${showValue(x)}`).join(', ') : 'all';
}

function showValue(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return fmtNum(v, 6);
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Order of two column values: missing ones last either way, numbers as numbers, text by its
 * natural order (seed-2 before seed-10). */
function compareValues(a, b, sign) {
  const missing = (v) => v === null || v === undefined || v === '';
  if (missing(a) || missing(b)) return missing(a) - missing(b);
  if (typeof a === 'number' && typeof b === 'number') return sign * (a - b);
  return sign * String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: 'base' });
}

function readColumns() {
  try {
    const saved = JSON.parse(localStorage.getItem(COLUMNS_KEY) || 'null');
    if (Array.isArray(saved)) {
      const known = COLUMNS.map((c) => c.key).filter((k) => saved.includes(k));
      if (known.length) return known;
    }
  } catch {
    // Unreadable: the defaults.
  }
  return DEFAULT_COLUMNS;
}

function readFilters() {
  const q = hashQuery();
  const sort = q.get('sort') || DEFAULT_SORT;
  const key = sort.replace(/^-/, '');
  const known = Object.keys(SORTS).includes(key) || CLIENT_SORTS.has(key);
  const sweep = q.get('sweep') || '';
  return {
    q: q.get('q') || '', status: q.get('status') || '', tag: q.get('tag') || '', kind: q.get('kind') || '',
    sweep: /^[0-9a-fA-F-]{36}$/.test(sweep) ? sweep : '', sort: known ? sort : DEFAULT_SORT,
  };
}
