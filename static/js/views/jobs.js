// The job list: filters, live status and progress (SSE /events), selection, bulk cancel.

import { api, stream, jobUrl } from '../api.js';
import { h, replace, fmtNum, fmtAgo, fmtDate, statusBadge, importedBadge, envNames, hashQuery, STATUSES, toast, throttle, fitnessNote } from '../util.js';

const PAGE = 50;
const ACTIVE = new Set(['queued', 'running']);
const DEFAULT_SORT = '-created';
// Sortable columns: the API's sort key, and the direction a first click picks.
const SORTS = { name: 'name', status: 'status', generation: '-generation', best: '-best', created: '-created' };

export function jobsView(root, { setConnection }) {
  const rows = new Map(); // id -> { job, tr, parts }
  const selected = new Set();
  let nextCursor = null;
  let loadToken = 0;
  let filters = readFilters();

  const statusSelect = h('select', { id: 'filter-status', name: 'status' },
    h('option', { value: '', text: 'any status' }),
    STATUSES.map((s) => h('option', { value: s, text: s })));
  const kindSelect = h('select', { id: 'filter-kind', name: 'kind' },
    h('option', { value: '', text: 'any kind' }),
    h('option', { value: 'evolve', text: 'evolution' }),
    h('option', { value: 'evaluate', text: 'evaluation' }));
  const tagInput = h('input', { id: 'filter-tag', name: 'tag', type: 'search', placeholder: 'e.g. paper', maxlength: 64, autocomplete: 'off' });
  const searchInput = h('input', { id: 'filter-q', name: 'q', type: 'search', placeholder: 'part of a name', maxlength: 200, autocomplete: 'off' });

  const setFilterInputs = () => {
    statusSelect.value = filters.status;
    kindSelect.value = filters.kind;
    tagInput.value = filters.tag;
    searchInput.value = filters.q;
  };
  setFilterInputs();

  const pushFilters = () => {
    const q = new URLSearchParams();
    const values = { q: searchInput.value.trim(), status: statusSelect.value, tag: tagInput.value.trim(), kind: kindSelect.value, sort: filters.sort };
    for (const key of ['q', 'status', 'tag', 'kind', 'sort']) {
      if (values[key] && !(key === 'sort' && values[key] === DEFAULT_SORT)) q.set(key, values[key]);
    }
    const target = q.toString() ? `#/?${q}` : '#/';
    if (location.hash !== target) location.hash = target;
  };
  statusSelect.addEventListener('change', pushFilters);
  kindSelect.addEventListener('change', pushFilters);
  let tagTimer = null;
  for (const input of [tagInput, searchInput]) {
    input.addEventListener('input', () => {
      clearTimeout(tagTimer);
      tagTimer = setTimeout(pushFilters, 400);
    });
  }

  // A column header sorts by its column; a second click turns the order round.
  const sortHeads = new Map();
  const sortHead = (key, label, cls) => {
    const arrow = h('span', { class: 'sort-arrow', 'aria-hidden': 'true' });
    const th = h('th', { scope: 'col', class: cls },
      h('button', { type: 'button', class: 'sort-button', dataset: { sort: key }, on: { click: () => {
        const current = filters.sort.replace(/^-/, '');
        filters.sort = current === key ? (filters.sort.startsWith('-') ? key : `-${key}`) : SORTS[key];
        pushFilters();
      } } }, label, arrow));
    sortHeads.set(key, { th, arrow });
    return th;
  };
  const showSort = () => {
    const key = filters.sort.replace(/^-/, '');
    const descending = filters.sort.startsWith('-');
    for (const [k, { th, arrow }] of sortHeads) {
      if (k === key) th.setAttribute('aria-sort', descending ? 'descending' : 'ascending');
      else th.removeAttribute('aria-sort');
      arrow.textContent = k === key ? (descending ? ' ▼' : ' ▲') : '';
    }
  };

  const cancelMatching = h('button', { type: 'button', class: 'btn btn-danger-outline', id: 'cancel-matching' }, 'Cancel all matching…');
  const cancelSelected = h('button', { type: 'button', class: 'btn btn-danger-outline', id: 'cancel-selected', disabled: true }, 'Cancel selected');
  const compareSelected = h('button', { type: 'button', class: 'btn', id: 'compare-selected', disabled: true }, 'Compare selected');
  const selectAll = h('input', { type: 'checkbox', id: 'select-all', 'aria-label': 'Select all shown jobs' });

  const tbody = h('tbody');
  const emptyRow = h('tr', { class: 'empty-row' }, h('td', { colspan: 8 }, 'No jobs yet. ', h('a', { href: '#/new', text: 'Submit one' }), '.'));
  const moreButton = h('button', { type: 'button', class: 'btn', hidden: true }, 'Load more');
  const summary = h('p', { class: 'muted', 'aria-live': 'polite' });

  const confirmText = h('p');
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'confirm-title' },
    h('form', { method: 'dialog' },
      h('h2', { id: 'confirm-title', text: 'Cancel jobs' }),
      confirmText,
      h('div', { class: 'actions' },
        h('button', { value: 'keep', class: 'btn', text: 'Keep them' }),
        h('button', { value: 'cancel', class: 'btn btn-danger', text: 'Cancel jobs' }))));

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
        h('div', { class: 'spacer' }),
        h('div', { class: 'bulk' }, compareSelected, cancelSelected, cancelMatching)),
      h('div', { class: 'table-wrap' },
        h('table', { class: 'jobs', id: 'job-table' },
          h('caption', { class: 'sr-only', text: 'Jobs; the column headers sort them' }),
          h('thead', {}, h('tr', {},
            h('th', { scope: 'col', class: 'col-select' }, selectAll),
            sortHead('name', 'Job'),
            sortHead('status', 'Status'),
            sortHead('generation', 'Progress', 'col-progress'),
            sortHead('best', 'Best fitness', 'num'),
            h('th', { scope: 'col', text: 'Set-up' }),
            sortHead('created', 'Created'),
            h('th', { scope: 'col', class: 'col-actions' }, h('span', { class: 'sr-only', text: 'Actions' })))),
          tbody)),
      h('div', { class: 'table-foot' }, summary, moreButton),
      fitnessNote(null, 'Best fitness is the highest a job has reached so far.')),
    dialog);

  const updateSelection = () => {
    for (const id of [...selected]) if (!rows.has(id)) selected.delete(id);
    const chosen = [...selected].map((id) => rows.get(id).job);
    cancelSelected.disabled = !chosen.some((j) => ACTIVE.has(j.status));
    compareSelected.disabled = chosen.filter((j) => j.kind === 'evolve').length < 1;
    selectAll.checked = rows.size > 0 && selected.size === rows.size;
    selectAll.indeterminate = selected.size > 0 && selected.size < rows.size;
  };

  const matches = (job) =>
    (!filters.q || job.name.toLowerCase().includes(filters.q.toLowerCase())) &&
    (!filters.status || job.status === filters.status) &&
    (!filters.kind || job.kind === filters.kind) &&
    (!filters.tag || job.tags.includes(filters.tag));

  function renderRow(job) {
    const check = h('input', {
      type: 'checkbox', 'aria-label': `Select ${job.name}`, checked: selected.has(job.id),
      on: { change: (e) => { if (e.target.checked) selected.add(job.id); else selected.delete(job.id); updateSelection(); } },
    });
    const progress = h('progress', { max: Math.max(1, job.generations), value: job.generation, 'aria-label': `Progress of ${job.name}` });
    const progressText = h('span', { class: 'progress-text' });
    const best = h('td', { class: 'num best' });
    const statusCell = h('td', { class: 'status-cell' });
    const actions = h('td', { class: 'col-actions' });
    const spec = job.spec || {};
    const setup = job.kind === 'evolve'
      ? [envNames(spec).join(', '), h('span', { class: 'muted' }, ` · ${spec.strategy?.name ?? 'cma_es'} × ${spec.strategy?.popsize ?? 128}`)]
      : [h('span', { class: 'muted', text: 'evaluation · ' }), (spec.envs || []).join(', ')];
    const tr = h('tr', { dataset: { jobId: job.id, status: job.status } },
      h('td', { class: 'col-select' }, check),
      h('td', { class: 'job-name' },
        h('a', { href: jobUrl(job.id), text: job.name || job.id.slice(0, 8) }),
        h('div', { class: 'tags' }, job.tags.map((t) => h('span', { class: 'tag', text: t })))),
      statusCell,
      h('td', { class: 'col-progress' }, progress, progressText),
      best,
      h('td', { class: 'setup' }, setup),
      h('td', { class: 'created' }, h('time', { datetime: new Date(job.created_at).toISOString(), title: fmtDate(job.created_at), text: fmtAgo(job.created_at) })),
      actions);
    const entry = { job, tr, parts: { progress, progressText, best, statusCell, actions, check } };
    fillRow(entry);
    return entry;
  }

  function fillRow(entry) {
    const { job, parts, tr } = entry;
    tr.dataset.status = job.status;
    replace(parts.statusCell, statusBadge(job.status), job.imported ? importedBadge() : null, job.error ? h('span', { class: 'error-dot', title: job.error, 'aria-label': `error: ${job.error}` }, '!') : null);
    parts.progress.max = Math.max(1, job.generations);
    parts.progress.value = Math.min(job.generation, job.generations);
    parts.progressText.textContent = `${job.generation} / ${job.generations}`;
    parts.best.textContent = fmtNum(job.best_fitness);
    replace(parts.actions, ACTIVE.has(job.status)
      ? h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Cancel ${job.name}`, on: { click: () => cancelOne(job.id) } }, 'Cancel')
      : null);
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
    } else if (prepend && filters.sort !== DEFAULT_SORT) {
      // A new job's place in another order is the server's to say.
      reload();
      return;
    } else {
      const entry = renderRow(job);
      rows.set(job.id, entry);
      if (prepend) tbody.prepend(entry.tr);
      else tbody.append(entry.tr);
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
    const active = [...rows.values()].filter((r) => ACTIVE.has(r.job.status)).length;
    summary.textContent = `${rows.size} job${rows.size === 1 ? '' : 's'} shown${active ? `, ${active} queued or running` : ''}.`;
    // Bulk cancel matches status, tag and kind only: never let it reach past a name search.
    cancelMatching.disabled = (Boolean(filters.status) && !ACTIVE.has(filters.status)) || Boolean(filters.q);
  }

  async function load(append = false) {
    const token = ++loadToken;
    const q = new URLSearchParams({ limit: String(PAGE) });
    for (const key of ['q', 'status', 'tag', 'kind']) if (filters[key]) q.set(key, filters[key]);
    if (filters.sort !== DEFAULT_SORT) q.set('sort', filters.sort);
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
      refreshEmpty();
      updateSelection();
    } catch (e) {
      if (token === loadToken) toast(`Could not load jobs: ${e.message}`, 'error');
    }
  }

  async function cancelOne(id) {
    try {
      upsert(await api(`/jobs/${id}/cancel`, { method: 'POST' }));
    } catch (e) {
      toast(`Cancel failed: ${e.message}`, 'error');
    }
  }

  function ask(text) {
    confirmText.textContent = text;
    dialog.returnValue = '';
    dialog.showModal();
    return new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue === 'cancel'), { once: true }));
  }

  cancelSelected.addEventListener('click', async () => {
    const ids = [...selected].filter((id) => ACTIVE.has(rows.get(id)?.job.status));
    if (!ids.length || !(await ask(`Cancel ${ids.length} selected job${ids.length === 1 ? '' : 's'}? Running jobs stop at their next generation boundary.`))) return;
    await Promise.all(ids.map(cancelOne));
    toast(`Cancelled ${ids.length} job${ids.length === 1 ? '' : 's'}.`);
  });

  cancelMatching.addEventListener('click', async () => {
    const parts = [];
    if (filters.status) parts.push(`status ${filters.status}`);
    if (filters.tag) parts.push(`tag “${filters.tag}”`);
    if (filters.kind) parts.push(`kind ${filters.kind}`);
    const which = parts.length ? `every queued or running job with ${parts.join(', ')}` : 'every queued or running job';
    if (!(await ask(`Cancel ${which}? This includes jobs not shown on this page.`))) return;
    const body = {};
    if (filters.status) body.status = filters.status;
    if (filters.tag) body.tag = filters.tag;
    if (filters.kind) body.kind = filters.kind;
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

function readFilters() {
  const q = hashQuery();
  const sort = q.get('sort') || DEFAULT_SORT;
  const known = Object.keys(SORTS).includes(sort.replace(/^-/, ''));
  return { q: q.get('q') || '', status: q.get('status') || '', tag: q.get('tag') || '', kind: q.get('kind') || '', sort: known ? sort : DEFAULT_SORT };
}
