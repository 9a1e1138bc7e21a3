// Sweeps: the list (#/sweeps) and one sweep (#/sweeps/<id>), whose variants (the runs that
// differ only in their seed) are drawn as mean ± std, or min–max, over their runs.

import { api, stream, jobUrl, ApiError } from '../api.js';
import { lineChart, sampleAt, stats, bandColumns, bandSeries, PALETTE } from '../charts.js';
import { h, replace, fmtNum, fmtAgo, statusBadge, throttle, toast, fitnessNote, fmtCompute } from '../util.js';
import { confirmDialog } from './job.js';

const MAX_POINTS = 600;
/** A job in these states still runs or will: a sweep with one cannot be deleted yet. */
const ACTIVE = new Set(['queued', 'running']);
/** The final evaluation's wirings: how many, and the first seed (far from any training seed's
 * lifetime streams, as scripts/three-env-study.sh and docs/results.md use). */
const EVAL_LIFETIMES = 64;
const EVAL_SEED = 100000;
/** The meta-tests a sweep's page queues beside the final evaluation: the same genomes on
 * structures they never saw (as scripts/three-env-study.sh runs them), and `untrained` on the
 * environments the sweep did not train on. */
const META_TESTS = [
  { key: 'nodes-16', label: 'N = 16', variant: { nodes: 16 } },
  { key: 'nodes-64', label: 'N = 64', variant: { nodes: 64 } },
  { key: 'permuted', label: 'inputs permuted (seed 7)', variant: { permute_inputs: 7 } },
  { key: 'extra-inputs', label: '2 extra inputs of noise', variant: { extra_inputs: 2 } },
  { key: 'untrained', label: 'environments never trained on', variant: {}, untrained: true },
];

export function sweepsView(root) {
  const controller = new AbortController();
  const body = h('tbody', {}, h('tr', {}, h('td', { colspan: 4, class: 'muted', text: 'Loading sweeps…' })));
  replace(root,
    h('div', { class: 'page-head' }, h('h1', { text: 'Sweeps' })),
    h('section', { class: 'card' },
      h('p', { class: 'muted' },
        'A sweep queues one job per combination of a spec\'s axes (POST /api/v1/sweeps, see the ',
        h('a', { href: 'api/docs/', text: 'API' }), '). Runs that differ only in their seed form a variant.'),
      h('table', { class: 'table', id: 'sweep-table' },
        h('thead', {}, h('tr', {}, ['Name', 'Axes', 'Jobs', 'Created'].map((t) => h('th', { scope: 'col', text: t })))),
        body)));
  api('/sweeps?limit=100', { signal: controller.signal }).then((sweeps) => {
    if (!sweeps.length) {
      replace(body, h('tr', {}, h('td', { colspan: 4, class: 'muted', text: 'No sweeps yet.' })));
      return;
    }
    replace(body, sweeps.map((s) => h('tr', { dataset: { sweepId: s.id } },
      h('td', {}, h('a', { href: `#/sweeps/${s.id}`, text: s.name })),
      h('td', { class: 'small' }, Object.entries(s.axes).map(([k, v]) => `${k} × ${v.length}`).join(' · ')),
      h('td', { text: String(s.jobs) }),
      h('td', { class: 'muted', text: fmtAgo(s.created_at) }))));
  }).catch((e) => {
    if (e.name !== 'AbortError') toast(`Could not load sweeps: ${e.message}`, 'error');
  });
  return () => controller.abort();
}

export function sweepView(root, id, { setConnection }) {
  const controller = new AbortController();
  let sweep = null;
  const charts = new Map(); // job id -> chart
  let spread = 'std';
  let bsfChart = null;
  let meanChart = null;
  let chartKey = null;
  // Per environment, in the sweep spec's order: the population mean weighted return (raw).
  let envNames = [];
  const envCharts = new Map(); // env -> chart

  const title = h('h1', { text: 'Sweep' });
  // The sweep as a whole: cancel every job still to run, or delete it with all its jobs.
  const cancelButton = h('button', { type: 'button', class: 'btn btn-danger-outline', id: 'sweep-cancel', text: 'Cancel sweep', disabled: true });
  const deleteButton = h('button', { type: 'button', class: 'btn btn-danger-outline', id: 'sweep-delete', text: 'Delete sweep', disabled: true });
  const message = h('p', { class: 'form-status sweep-message', id: 'sweep-message', role: 'status', 'aria-live': 'polite' });
  cancelButton.addEventListener('click', () => cancelSweep());
  deleteButton.addEventListener('click', () => deleteSweep());
  const axes = h('dl', { class: 'facts', id: 'sweep-axes' });
  const variantsBody = h('tbody');
  const bsfHolder = h('div', { class: 'chart', dataset: { chart: 'sweep-best' } });
  const meanHolder = h('div', { class: 'chart', dataset: { chart: 'sweep-mean' } });
  const envsCard = h('section', { class: 'card', 'aria-labelledby': 'sw-envs-title', id: 'sweep-envs', hidden: true },
    h('div', { class: 'card-head' }, h('h2', { id: 'sw-envs-title', text: 'Returns per environment, per variant' })),
    h('p', { class: 'muted small', text: 'The population mean weighted return Σ w_k R_k in each environment\'s own units (bucket maxima), averaged over a variant\'s seeds with the band chosen above.' }));
  const spreadSelect = h('select', { id: 'sweep-spread', 'aria-label': 'Spread over runs' },
    h('option', { value: 'std', text: 'mean ± std' }),
    h('option', { value: 'range', text: 'mean, min–max' }));
  spreadSelect.addEventListener('change', () => {
    spread = spreadSelect.value;
    draw();
  });

  // The final evaluation: each finished run's final mean genome on fresh wirings, pooled per
  // variant, from the evaluation jobs that ran it (queued from here or from the API).
  const evalBody = h('tbody');
  const evalHead = h('thead');
  const evalButton = h('button', { type: 'button', class: 'btn', id: 'sweep-evaluate', text: `Evaluate final genomes (${EVAL_LIFETIMES} wirings)` });
  evalButton.addEventListener('click', () => evaluateFinals());
  const evalCard = h('section', { class: 'card', 'aria-labelledby': 'sw-eval-title', id: 'sweep-evaluation' },
    h('div', { class: 'card-head' }, h('h2', { id: 'sw-eval-title', text: 'Final evaluation, per variant' }), evalButton),
    h('p', { class: 'muted small', text: `Each finished run's final strategy-mean genome on ${EVAL_LIFETIMES} fresh wirings per environment (seeds ${EVAL_SEED} on, never used in training), with the training lifetime: the weighted return Σ w_k R_k of every lifetime, mean ± std over a variant's runs, and how many reach the environment's solved threshold (gymnasium's).` }),
    h('table', { class: 'table', id: 'evaluation-table' }, evalHead, evalBody));
  let thresholds = new Map(); // env -> solved_at
  const metaBody = h('tbody');
  const metaHead = h('thead');
  const metaButton = h('button', { type: 'button', class: 'btn', id: 'sweep-meta-test', text: 'Queue meta-tests' });
  metaButton.addEventListener('click', () => queueEvaluations(META_TESTS));
  const metaCard = h('section', { class: 'card', 'aria-labelledby': 'sw-meta-title', id: 'sweep-meta' },
    h('div', { class: 'card-head' }, h('h2', { id: 'sw-meta-title', text: 'Meta-test, per variant' }), metaButton),
    h('p', { class: 'muted small', text: `The same final genomes on structures they never saw (other network sizes, a permuted observation, extra inputs of noise) and on the environments the sweep did not train on, ${EVAL_LIFETIMES} wirings each: mean ± std of the weighted return over a variant's runs.` }),
    h('table', { class: 'table', id: 'meta-table' }, metaHead, metaBody));

  replace(root,
    h('div', { class: 'page-head' }, title, h('div', { class: 'actions' }, cancelButton, deleteButton)),
    message,
    h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', { text: 'Axes' })), axes),
    h('section', { class: 'card chart-card', 'aria-labelledby': 'sw-best-title' },
      h('div', { class: 'card-head' },
        h('h2', { id: 'sw-best-title', text: 'Best fitness so far, per variant' }),
        h('label', { class: 'small' }, 'Band ', spreadSelect)),
      fitnessNote(null, 'Each variant is averaged over its seeds.'),
      bsfHolder),
    h('section', { class: 'card chart-card', 'aria-labelledby': 'sw-mean-title' },
      h('div', { class: 'card-head' }, h('h2', { id: 'sw-mean-title', text: 'Population mean fitness, per variant' })),
      meanHolder),
    envsCard,
    evalCard,
    metaCard,
    h('section', { class: 'card', 'aria-labelledby': 'sw-var-title' },
      h('div', { class: 'card-head' }, h('h2', { id: 'sw-var-title', text: 'Variants' })),
      h('table', { class: 'table', id: 'variant-table' },
        h('thead', {}, h('tr', {}, ['', 'Variant', 'Runs', 'Best so far (mean ± std)', 'Compute (all runs)', 'Jobs'].map((t) => h('th', { scope: 'col', text: t })))),
        variantsBody)));

  /** The variants' curves on one generation grid: per variant [center, low, high]. */
  function aggregate() {
    const xs = new Set();
    for (const c of charts.values()) for (const g of c.generation) xs.add(g);
    const grid = [...xs].sort((a, b) => a - b);
    const columns = sweep.variants.map((v) => {
      const members = v.job_ids.map((j) => charts.get(j)).filter(Boolean);
      const bsf = grid.map((g) => stats(members.map((c) => sampleAt(c.best_so_far.generation, c.best_so_far.value, g, c.generations - 1))));
      const mean = grid.map((g) => stats(members.map((c) => sampleAt(c.generation, c.mean_max, g, c.generations - 1))));
      const envs = envNames.map((name) => grid.map((g) => stats(members.map((c) => {
        const curves = c.envs?.find((e) => e.env === name);
        return curves ? sampleAt(c.generation, curves.mean_return_max, g, c.generations - 1) : null;
      }))));
      return { bsf, mean, envs };
    });
    return { grid, columns };
  }

  function rebuildCharts() {
    const key = `${sweep.variants.map((v) => v.label).join('|')}#${envNames.join('|')}`;
    if (key === chartKey && bsfChart) return;
    chartKey = key;
    bsfChart?.destroy();
    meanChart?.destroy();
    // The center line carries the variant's name; the band's edges are its low and high.
    const { series, bands } = bandSeries(sweep.variants.map((v, i) => ({
      label: `${v.label} (${v.job_ids.length})`,
      color: PALETTE[i % PALETTE.length],
    })));
    bsfChart = lineChart(bsfHolder, { yLabel: 'fitness', height: 300, series, bands });
    meanChart = lineChart(meanHolder, { yLabel: 'fitness', height: 260, series, bands });
    for (const chart of envCharts.values()) chart.destroy();
    envCharts.clear();
    for (const holder of envsCard.querySelectorAll('.env-panel')) holder.remove();
    envsCard.hidden = envNames.length === 0;
    for (const name of envNames) {
      const holder = h('div', { class: 'chart', dataset: { chart: `sweep-env-${name}` } });
      envsCard.append(h('div', { class: 'env-panel' }, h('h3', { class: 'small', text: name }), holder));
      envCharts.set(name, lineChart(holder, { yLabel: 'return', height: 220, series, bands }));
    }
  }

  function draw() {
    if (!sweep) return;
    rebuildCharts();
    const { grid, columns } = aggregate();
    const flat = (which) => [grid, ...columns.flatMap((c) => bandColumns(c[which], spread))];
    bsfChart.setData(flat('bsf'));
    meanChart.setData(flat('mean'));
    envNames.forEach((name, e) => {
      envCharts.get(name)?.setData([grid, ...columns.flatMap((c) => bandColumns(c.envs[e], spread))]);
    });
    bsfHolder.dataset.points = String(grid.length);
    replace(variantsBody, sweep.variants.map((v, i) => {
      const last = columns[i].bsf.filter(Boolean).at(-1);
      return h('tr', { dataset: { variant: v.label } },
        h('td', {}, h('span', { class: `swatch swatch-${i % 8}`, 'aria-hidden': 'true' })),
        h('td', {}, h('code', { text: v.label })),
        h('td', { text: String(v.job_ids.length) }),
        h('td', { class: 'num', text: last ? `${fmtNum(last.mean, 4)} ± ${fmtNum(last.std, 3)} (n=${last.n})` : '—' }),
        h('td', { class: 'num compute', text: fmtCompute(v.compute) }),
        h('td', {}, v.job_ids.map((jid) => {
          const job = sweep.jobs.find((j) => j.id === jid);
          return h('a', { class: 'sweep-member', href: jobUrl(jid), title: job?.name || jid },
            statusBadge(job?.status || 'queued'), ` seed ${job?.spec?.seed ?? '?'}`, ' ');
        })));
    }));
  }

  /** Each finished job's final mean genome id, by job id. */
  // A finished job's final genome and a finished evaluation's result never change: fetched once,
  // not on every reload (the page reloads every few seconds while jobs progress).
  const finalGenomeOf = new Map(); // job id -> genome id
  const resultOf = new Map(); // evaluation job id -> result
  async function evaluationResult(job) {
    if (!resultOf.has(job.id)) resultOf.set(job.id, await api(`/jobs/${job.id}/evaluation`, { signal: controller.signal }));
    return resultOf.get(job.id);
  }

  async function finalGenomes() {
    const finished = sweep.jobs.filter((j) => j.status === 'succeeded' && !finalGenomeOf.has(j.id));
    await Promise.all(finished.map(async (job) => {
      const genomes = await api(`/jobs/${job.id}/genomes`, { signal: controller.signal });
      const final = genomes.find((g) => g.kind === 'final_mean');
      if (final) finalGenomeOf.set(job.id, final.id);
    }));
    return new Map(sweep.jobs.filter((j) => finalGenomeOf.has(j.id)).map((j) => [j.id, finalGenomeOf.get(j.id)]));
  }

  /** The finished evaluation jobs of the genomes in `ids` that are final evaluations (the
   * genome's own structure, the seeds above), newest first. */
  async function evaluationsOf(ids) {
    const found = [];
    let cursor = null;
    for (let page = 0; page < 20; page++) {
      const q = new URLSearchParams({ kind: 'evaluate', limit: '200' });
      if (cursor) q.set('cursor', cursor);
      const result = await api(`/jobs?${q}`, { signal: controller.signal });
      for (const job of result.jobs) {
        const spec = job.spec || {};
        if (ids.has(spec.genome_id) && spec.seeds?.[0] === EVAL_SEED) found.push(job);
      }
      cursor = result.next_cursor;
      if (!cursor) break;
    }
    return found;
  }

  async function drawEvaluation() {
    const finals = await finalGenomes();
    const genomeIds = new Set(finals.values());
    const all = await evaluationsOf(genomeIds);
    const evaluations = all.filter((j) => testOf(j.spec) === 'final');
    // One evaluation per genome: the newest finished one.
    const byGenome = new Map();
    for (const job of evaluations) {
      if (job.status === 'succeeded' && !byGenome.has(job.spec.genome_id)) byGenome.set(job.spec.genome_id, job);
    }
    await drawMetaTests(finals, all);
    const pending = evaluations.filter((j) => j.status === 'queued' || j.status === 'running').length;
    evalButton.disabled = finals.size === 0 || [...genomeIds].every((g) => byGenome.has(g) || evaluations.some((j) => j.spec.genome_id === g && j.status !== 'failed' && j.status !== 'cancelled'));
    const results = new Map(); // genome id -> result
    await Promise.all([...byGenome.values()].map(async (job) => {
      results.set(job.spec.genome_id, await evaluationResult(job));
    }));
    const names = envNames;
    replace(evalHead, h('tr', {}, ['', 'Variant', 'Runs evaluated', ...names].map((t) => h('th', { scope: 'col', text: t }))));
    if (!results.size) {
      replace(evalBody, h('tr', {}, h('td', { colspan: 3 + names.length, class: 'muted', text: pending ? `${pending} evaluations queued or running…` : 'No final evaluation yet.' })));
      return;
    }
    replace(evalBody, sweep.variants.map((v, i) => {
      const runs = v.job_ids.map((j) => results.get(finals.get(j))).filter(Boolean);
      const cells = names.map((name) => {
        const returns = runs.flatMap((r) => r.envs.find((e) => e.env === name)?.lifetimes.map((l) => l.weighted_return) || []);
        if (!returns.length) return h('td', { text: '—' });
        const s = stats(returns);
        const threshold = thresholds.get(name);
        const solved = threshold === null || threshold === undefined ? '' : ` · ${returns.filter((r) => r >= threshold).length}/${returns.length} solved`;
        return h('td', { class: 'num', dataset: { env: name }, text: `${fmtNum(s.mean, 4)} ± ${fmtNum(s.std, 3)}${solved}` });
      });
      return h('tr', { dataset: { variant: v.label } },
        h('td', {}, h('span', { class: `swatch swatch-${i % 8}`, 'aria-hidden': 'true' })),
        h('td', {}, h('code', { text: v.label })),
        h('td', { text: `${runs.length} of ${v.job_ids.length}` }),
        ...cells);
    }));
  }

  /** Which test an evaluation spec is: 'final', a META_TESTS key, or null. */
  function testOf(spec) {
    const variant = Object.fromEntries(Object.entries(spec.variant || {}).filter(([, v]) => v !== null && v !== 0));
    const same = (a, b) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
    const sameEnvs = (list) => list.length === spec.envs.length && list.every((e) => spec.envs.includes(e));
    if (!Object.keys(variant).length && sameEnvs(envNames)) return 'final';
    const test = META_TESTS.find((t) => same(t.variant, variant) && sameEnvs(t.untrained ? untrainedEnvs() : envNames));
    return test ? test.key : null;
  }

  function untrainedEnvs() {
    return [...thresholds.keys()].filter((e) => !envNames.includes(e));
  }

  async function drawMetaTests(finals, all) {
    const done = new Map(); // `${test}|${genome}` -> job
    for (const job of all) {
      const key = `${testOf(job.spec)}|${job.spec.genome_id}`;
      if (job.status === 'succeeded' && !done.has(key)) done.set(key, job);
    }
    const results = new Map();
    await Promise.all([...done.entries()].filter(([k]) => !k.startsWith('final|')).map(async ([key, job]) => {
      results.set(key, await evaluationResult(job));
    }));
    replace(metaHead, h('tr', {}, ['Meta-test', 'Environment', ...sweep.variants.map((v) => v.label)].map((t) => h('th', { scope: 'col', text: t }))));
    const rows = [];
    for (const test of META_TESTS) {
      for (const env of test.untrained ? untrainedEnvs() : envNames) {
        const cells = sweep.variants.map((v) => {
          const returns = v.job_ids.flatMap((j) => results.get(`${test.key}|${finals.get(j)}`)?.envs.find((e) => e.env === env)?.lifetimes.map((l) => l.weighted_return) || []);
          if (!returns.length) return h('td', { text: '—' });
          const st = stats(returns);
          return h('td', { class: 'num', text: `${fmtNum(st.mean, 4)} ± ${fmtNum(st.std, 3)} (n=${returns.length})` });
        });
        if (cells.some((c) => c.textContent !== '—')) rows.push(h('tr', { dataset: { test: test.key, env } }, h('td', { text: test.label }), h('td', { text: env }), ...cells));
      }
    }
    replace(metaBody, rows.length ? rows : h('tr', {}, h('td', { colspan: 2 + sweep.variants.length, class: 'muted', text: 'No meta-test yet.' })));
    metaButton.disabled = finals.size === 0;
  }

  function evaluateFinals() {
    return queueEvaluations([{ key: 'final', variant: {} }]);
  }

  /** Queues each of `tests` for every finished run's final genome that lacks it. */
  async function queueEvaluations(tests) {
    evalButton.disabled = true;
    metaButton.disabled = true;
    try {
      const finals = await finalGenomes();
      const all = await evaluationsOf(new Set(finals.values()));
      const covered = new Set(all.filter((j) => j.status !== 'failed' && j.status !== 'cancelled').map((j) => `${testOf(j.spec)}|${j.spec.genome_id}`));
      const seeds = Array.from({ length: EVAL_LIFETIMES }, (_, k) => EVAL_SEED + k);
      let queued = 0;
      for (const test of tests) {
        for (const [jobId, genomeId] of finals) {
          if (covered.has(`${test.key}|${genomeId}`)) continue;
          const job = sweep.jobs.find((j) => j.id === jobId);
          await api(`/genomes/${genomeId}/evaluate`, {
            method: 'POST',
            body: {
              envs: test.untrained ? untrainedEnvs() : envNames,
              episodes: job?.spec?.lifetime?.episodes ?? 8,
              seeds,
              episode_mode: job?.spec?.lifetime?.episode_mode ?? 'fixed_horizon',
              variant: test.variant,
            },
            signal: controller.signal,
          });
          queued += 1;
        }
      }
      toast(queued ? `Queued ${queued} evaluations` : 'Every one is queued or done already');
      await drawEvaluation();
    } catch (e) {
      if (e.name !== 'AbortError') toast(`Could not queue the evaluations: ${e.message}`, 'error');
      evalButton.disabled = false;
      metaButton.disabled = false;
    }
  }

  function say(text, error = false) {
    message.textContent = text;
    message.className = `form-status sweep-message${error ? ' error' : ''}`;
  }

  async function cancelSweep() {
    cancelButton.disabled = true;
    try {
      const { cancelled } = await api(`/sweeps/${id}/cancel`, { method: 'POST', signal: controller.signal });
      say(cancelled === 1 ? 'Cancelled 1 job of the sweep.' : `Cancelled ${cancelled} jobs of the sweep.`);
      reloadSoon();
    } catch (e) {
      if (e.name === 'AbortError') return;
      say(`Could not cancel the sweep: ${e.message}`, true);
      cancelButton.disabled = false;
    }
  }

  // While a delete is under way nothing reloads the sweep: a reload that reached the server
  // after it would ask for what is gone.
  let deleting = false;
  let loading = null;
  async function deleteSweep() {
    const jobs = sweep?.jobs.length ?? 0;
    const ok = await confirmDialog(`Delete the sweep “${sweep?.name ?? id}” and its ${jobs} ${jobs === 1 ? 'job' : 'jobs'}, with their histories and genomes? This cannot be undone.`, 'Delete sweep');
    if (!ok || controller.signal.aborted) return;
    deleting = true;
    reloadSoon.cancel();
    deleteButton.disabled = true;
    await loading?.catch(() => {});
    try {
      await api(`/sweeps/${id}`, { method: 'DELETE' });
      toast(`Deleted the sweep “${sweep?.name ?? id}” and its jobs.`);
      location.hash = '#/';
    } catch (e) {
      deleting = false;
      deleteButton.disabled = false;
      if (e instanceof ApiError && e.status === 409) {
        say(`Not deleted, as a job of it still runs: cancel it first (the server says: ${e.message}).`, true);
      } else {
        say(`Could not delete the sweep: ${e.message}`, true);
      }
      reloadSoon();
    }
  }

  function load() {
    if (deleting) return null;
    loading = loadSweep();
    return loading;
  }

  async function loadSweep() {
    try {
      sweep = await api(`/sweeps/${id}`, { signal: controller.signal });
      title.textContent = `Sweep: ${sweep.name}`;
      cancelButton.disabled = !sweep.jobs.some((j) => ACTIVE.has(j.status));
      deleteButton.disabled = deleting;
      replace(axes, Object.entries(sweep.axes).flatMap(([path, values]) => [
        h('dt', {}, h('code', { text: path })),
        h('dd', { text: values.map((v) => JSON.stringify(v)).join(', ') }),
      ]), h('dt', { text: 'Compute' }), h('dd', { id: 'sweep-compute', text: fmtCompute(sweep.compute) }));
      envNames = (sweep.spec?.envs || []).map((e) => (typeof e === 'string' ? e : e.name));
      await Promise.all(sweep.jobs.map(async (job) => {
        try {
          charts.set(job.id, await api(`/jobs/${job.id}/history/chart?max_points=${MAX_POINTS}&series=envs`, { signal: controller.signal }));
        } catch (e) {
          if (e.name !== 'AbortError') toast(`Could not load job ${job.id.slice(0, 8)}: ${e.message}`, 'error');
        }
      }));
      draw();
      try {
        if (!thresholds.size) {
          thresholds = new Map((await api('/envs', { signal: controller.signal })).map((e) => [e.name, e.solved_at]));
        }
        await drawEvaluation();
      } catch (e) {
        if (e.name !== 'AbortError') toast(`Could not load the final evaluation: ${e.message}`, 'error');
      }
    } catch (e) {
      if (e.name === 'AbortError') return;
      replace(root, h('section', { class: 'card empty' }, h('h1', { text: 'Sweep not found' }),
        h('p', {}, e.message, '. ', h('a', { href: '#/sweeps', text: 'All sweeps' }))));
    }
  }

  const reloadSoon = throttle(() => load(), 3000);
  const events = stream('/events', {
    progress: (p) => { if (sweep?.jobs.some((j) => j.id === p.job_id)) reloadSoon(); },
    // Evaluation jobs belong to no sweep; any of them may be one of this sweep's finals.
    job: (job) => { if (job.sweep?.id === id || job.kind === 'evaluate') reloadSoon(); },
    job_deleted: ({ id: gone }) => { if (sweep?.jobs.some((j) => j.id === gone)) reloadSoon(); },
    resync: () => reloadSoon(),
  }, setConnection);
  load();

  return () => {
    controller.abort();
    events.close();
    reloadSoon.cancel();
    bsfChart?.destroy();
    meanChart?.destroy();
    for (const chart of envCharts.values()) chart.destroy();
  };
}
