// End-to-end test of the SFNN Lab dashboard in Debian's headless Chromium.
//
//   node tests/e2e/dashboard.mjs <server-url> <artifact-dir>
//
// Expects a fresh `sfnn serve` with one worker at <server-url>. Submits an invalid and then a
// valid job through the form, follows the job page while its chart grows, downloads a genome,
// evaluates it, visits the list and compare pages, and fails on any console error, page error
// or failed request other than the one 422 the invalid submission provokes. Screenshots go to
// <artifact-dir>. Exit status 0 means every check passed.

import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const [url, artifacts] = process.argv.slice(2);
if (!url || !artifacts) {
  console.error('usage: node dashboard.mjs <server-url> <artifact-dir>');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const started = Date.now();
const GENERATIONS = 30;

const step = (what) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${what}`);
function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}
// Polls `probe` (async) until it returns true, for at most 3 s.
async function eventually(probe, message) {
  const until = Date.now() + 3000;
  while (!(await probe())) {
    if (Date.now() > until) throw new Error(`check failed: ${message}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const userData = mkdtempSync(join(tmpdir(), 'sfnn-e2e-chromium-'));
const context = await chromium.launchPersistentContext(userData, {
  executablePath: CHROMIUM,
  headless: true,
  acceptDownloads: true,
  viewport: { width: 1360, height: 900 },
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
context.setDefaultTimeout(20000);

// Everything the browser reports; checked at the end.
const consoleErrors = [];
const consoleWarnings = [];
const pageErrors = [];
const failedRequests = [];
const badResponses = [];
let expected422 = 0; // the invalid submission's response, and Chromium's console line for it
let formSweepId = null; // the sweep the form queues: one refused delete (409) while it runs

const page = context.pages()[0] || (await context.newPage());
page.on('console', (msg) => {
  const entry = `${msg.type()}: ${msg.text()} (${msg.location().url || 'no url'})`;
  if (msg.type() === 'error') consoleErrors.push(entry);
  else if (msg.type() === 'warning') consoleWarnings.push(entry);
});
page.on('pageerror', (err) => pageErrors.push(String(err?.stack || err)));
page.on('requestfailed', (request) => {
  const error = request.failure()?.errorText || '';
  // Closing an EventSource (leaving a page) aborts its request, and a view that is left aborts
  // the fetches it still waits for (its AbortController): the page's own doing, not a failure.
  if (['eventsource', 'fetch'].includes(request.resourceType()) && error.includes('ERR_ABORTED')) return;
  failedRequests.push(`${request.method()} ${request.url()}: ${error} (${request.resourceType()})`);
});
page.on('response', (response) => {
  if (response.status() >= 400) badResponses.push(`${response.request().method()} ${response.url()} → ${response.status()}`);
});

const summary = { url };
let failed = null;
try {
  // ---- the job list ----------------------------------------------------------------------
  step('load the dashboard');
  await page.goto(url, { waitUntil: 'load' });
  check((await page.title()).includes('SFNN Lab'), 'page title names SFNN Lab');
  await page.getByRole('heading', { level: 1, name: 'Jobs' }).waitFor();
  await page.locator('#job-table').waitFor();
  await page.locator('#conn.conn-live').waitFor();
  const FITNESS_NOTE = /^Fitness: each episode's return scaled/;
  check(FITNESS_NOTE.test(await page.locator('.fitness-note').first().textContent()), 'the job list explains fitness');

  // ---- an invalid spec: the server's error appears next to the offending field ------------
  step('submit an invalid spec');
  await page.getByRole('link', { name: 'New job', exact: true }).first().click();
  await page.waitForURL(/#\/new$/);
  await page.locator('#env-CartPole-v1').waitFor();
  await page.locator('#job-form[data-ready="true"]').waitFor();
  const popsize = page.getByLabel('Population size');
  // The form restates nothing: defaults, choices and bounds come from the server's schema, and
  // a new form opens on the first-run example, not the paper's day-long configuration.
  const doc = await (await page.request.get(`${url}/api/v1/openapi.json`)).json();
  const schemas = doc.components.schemas;
  const firstRun = (await (await page.request.get(`${url}/api/v1/examples`)).json()).find((e) => e.file === 'cartpole-quick.json').spec;
  const openedSpec = JSON.parse(await page.locator('#spec-json').inputValue());
  check((await popsize.inputValue()) === String(firstRun.strategy.popsize), 'population size is the first-run example\'s');
  check(openedSpec.generations === firstRun.generations && JSON.stringify(openedSpec.envs) === JSON.stringify(firstRun.envs), 'the form opens on examples/cartpole-quick.json');
  check(openedSpec.checkpoint_interval === schemas.JobSpec.properties.checkpoint_interval.default &&
    openedSpec.lifetime.episode_mode === schemas.LifetimeConfig.properties.episode_mode.default &&
    JSON.stringify(openedSpec.model.topology) === JSON.stringify(schemas.ModelSpec.properties.topology.default),
    'fields the example leaves out hold the server\'s defaults');
  const options = async (label) => page.getByLabel(label).locator('option').evaluateAll((els) => els.map((e) => e.value));
  check(JSON.stringify(await options('Strategy')) === JSON.stringify(schemas.StrategyName.enum), 'the strategies are the server\'s');
  check(JSON.stringify(await options('Episode mode')) === JSON.stringify(schemas.EpisodeMode.enum), 'the episode modes are the server\'s');
  const popsizeSchema = schemas.StrategyConfig.properties.popsize;
  check(await popsize.getAttribute('min') === String(popsizeSchema.minimum) && await popsize.getAttribute('max') === String(popsizeSchema.maximum),
    'the population size\'s bounds are the server\'s');
  const generationsSchema = schemas.JobSpec.properties.generations;
  check(await page.getByLabel('Generations').getAttribute('max') === String(generationsSchema.maximum), 'the generations\' bound is the server\'s');
  // Before anything ran on this server the estimate gives a time all the same, from the
  // executor's built-in figure, and says so; above an hour it warns.
  const estimate = page.locator('#run-estimate');
  const longRun = page.locator('#estimate-warning');
  await page.waitForFunction(() => document.querySelector('#run-estimate')?.dataset.source === 'built_in', null, { timeout: 5000 })
    .catch(async () => check(false, `before any run the estimate uses the built-in figure (got: ${await estimate.textContent()})`));
  const freshEstimate = await estimate.textContent();
  check(/^Run time ≈ .* estimated from a built-in figure for the CPU executor/.test(freshEstimate) && Number(await estimate.getAttribute('data-seconds')) > 0,
    `on a fresh server the estimate is a time from the built-in figure: ${freshEstimate}`);
  check(!(await longRun.isVisible()), 'the first-run example is no long run');
  summary.fresh_estimate = freshEstimate;
  await page.getByLabel('Generations').fill(String(generationsSchema.maximum));
  await longRun.waitFor({ state: 'visible', timeout: 5000 });
  check(/more than an hour/.test(await longRun.textContent()) && (await longRun.getAttribute('role')) === 'alert', `a run of days is announced as long: ${await longRun.textContent()}`);
  await popsize.fill('1');
  const rejected = page.waitForResponse((r) => r.url().endsWith('/api/v1/jobs') && r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Submit job' }).click();
  check((await rejected).status() === 422, 'the server answers 422');
  expected422 += 1;
  const popsizeError = page.locator('.field[data-field="strategy.popsize"] .field-error');
  await popsizeError.waitFor({ state: 'visible' });
  const errorText = await popsizeError.textContent();
  check(/between 2 and/.test(errorText), `the popsize error says why: ${errorText}`);
  check((await popsize.getAttribute('aria-invalid')) === 'true', 'the popsize input is marked invalid');
  check((await popsize.getAttribute('aria-describedby'))?.includes('spec-strategy-popsize-error'), 'the error describes the input');
  check(await popsize.evaluate((el) => document.activeElement === el), 'the invalid field has the focus');
  summary.invalid_spec_error = errorText;

  // Two invalid fields: both are shown, each at its field and both in the list above the form.
  await page.getByLabel('Generations').fill('0');
  const rejectedTwice = page.waitForResponse((r) => r.url().endsWith('/api/v1/jobs') && r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Submit job' }).click();
  check((await rejectedTwice).status() === 422, 'two invalid fields are rejected');
  expected422 += 1;
  const generationsError = page.locator('.field[data-field="generations"] .field-error');
  await generationsError.waitFor({ state: 'visible' });
  check(await popsizeError.isVisible() && /between 2 and/.test(await popsizeError.textContent()), 'the popsize error stays beside the generations one');
  check((await page.getByLabel('Generations').getAttribute('aria-invalid')) === 'true', 'the generations input is marked invalid');
  const errorSummary = page.locator('#form-errors');
  check(await errorSummary.isVisible() && (await errorSummary.getAttribute('role')) === 'alert', 'the list of problems is shown and announced');
  const listed = await errorSummary.locator('li').evaluateAll((els) => els.map((e) => e.dataset.field));
  check(listed.join() === 'strategy.popsize,generations', `the list names both fields (${listed})`);
  check(/2 problems/.test(await errorSummary.locator('h2').textContent()), 'the list counts the problems');
  await errorSummary.locator('li[data-field="generations"] button').click();
  check(await page.getByLabel('Generations').evaluate((el) => document.activeElement === el), 'a name in the list takes the focus to its field');
  await page.screenshot({ path: join(artifacts, 'submit-error.png'), fullPage: true });

  // While the JSON cannot be read, the fields say so instead of showing stale values.
  await page.locator('#spec-json').fill('{"envs": [');
  await page.locator('#fields-stale').waitFor({ state: 'visible' });
  check(await popsize.isDisabled() && await page.locator('#env-CartPole-v1').isDisabled(), 'the fields wait for valid JSON');

  // A bad environment name: `envs[0]` lands on the environments fieldset.
  await page.locator('#spec-json').fill(JSON.stringify({ envs: ['NoSuchEnv-v0'] }));
  check(!(await page.locator('#fields-stale').isVisible()) && !(await popsize.isDisabled()), 'valid JSON gives the fields back');
  const rejectedEnv = page.waitForResponse((r) => r.url().endsWith('/api/v1/jobs') && r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Submit job' }).click();
  check((await rejectedEnv).status() === 422, 'an unknown environment is rejected');
  expected422 += 1;
  await page.locator('#spec-envs-error').waitFor({ state: 'visible' });
  check((await page.locator('#spec-envs-error').textContent()).length > 0, 'the environments error has a message');

  // ---- a valid job through the form ---------------------------------------------------------
  step('submit a small CartPole job');
  await page.getByRole('button', { name: 'Reset' }).click();
  check(!(await popsizeError.isVisible()), 'the error clears on reset');
  check(!(await page.locator('#form-errors').isVisible()), 'so does the list of problems');
  // The strategy's own options only: switching the strategy swaps them, in the fields and in
  // the JSON (another strategy's options would read as if they applied).
  const shown = (option) => page.locator(`#spec-strategy-${option}`).isVisible();
  const strategyKeys = async () => Object.keys(JSON.parse(await page.locator('#spec-json').inputValue()).strategy);
  check(await shown('elite-ratio') && !(await shown('learning-rate')) && !(await shown('lr-mean')), 'CMA-ES shows its own options only');
  await page.getByLabel('Strategy', { exact: true }).selectOption('open_es');
  check(await shown('learning-rate') && await shown('antithetic') && !(await shown('elite-ratio')) && !(await shown('lr-mean')),
    'switched to OpenAI-ES, the form shows its options and hides CMA-ES\'s');
  let keys = await strategyKeys();
  check(keys.includes('learning_rate') && !keys.includes('elite_ratio') && !keys.includes('lr_mean'), `the JSON follows the switch (${keys})`);
  await page.getByLabel('Strategy', { exact: true }).selectOption('cma_es');
  keys = await strategyKeys();
  check(await shown('elite-ratio') && !(await shown('learning-rate')) && keys.includes('elite_ratio') && !keys.includes('learning_rate'), `and back (${keys})`);
  await page.getByLabel('Name', { exact: true }).fill('e2e-cartpole');
  await page.getByLabel('Tags').fill('e2e, dashboard');
  await page.locator('#env-Acrobot-v1').uncheck();
  await page.locator('#env-MountainCar-v0').uncheck();
  check(await page.locator('#env-CartPole-v1').isChecked(), 'CartPole stays chosen');
  await popsize.fill('6');
  await page.getByLabel('Episodes per lifetime').fill('2');
  await page.getByLabel('Episode mode').selectOption('stop_on_done');
  await page.getByLabel('Generations').fill(String(GENERATIONS));
  await page.getByLabel('Seed', { exact: true }).fill('7');
  // The run-time estimate follows the spec: before any run here, at the built-in throughput.
  await page.waitForFunction(() => /180 k SFNN steps at most/.test(document.querySelector('#run-estimate')?.textContent || ''), null, { timeout: 5000 })
    .catch(async () => check(false, `the estimate counts 30 × 6 × 2 × 500 steps (got: ${await estimate.textContent()})`));
  check(/built-in figure/.test(await estimate.textContent()) && Number(await estimate.getAttribute('data-seconds')) > 0, 'before any run the estimate is a time from the built-in figure');
  check(!(await longRun.isVisible()), 'a small job is no long run');
  check(FITNESS_NOTE.test(await page.locator('#job-form .fitness-note').textContent()), 'the form explains fitness');
  const spec = JSON.parse(await page.locator('#spec-json').inputValue());
  check(JSON.stringify(spec.envs) === '["CartPole-v1"]', 'the JSON editor follows the fields (envs)');
  check(spec.strategy.popsize === 6 && spec.lifetime.episodes === 2 && spec.lifetime.episode_mode === 'stop_on_done' &&
    spec.generations === GENERATIONS && spec.seed === 7 && spec.tags.join() === 'e2e,dashboard', 'the JSON editor follows the fields');
  await page.getByRole('button', { name: 'Submit job' }).click();
  await page.waitForURL(/#\/jobs\/[0-9a-f-]{36}$/);
  const jobId = page.url().split('/').pop();
  summary.job_id = jobId;

  // ---- the job page: the chart grows while the job runs -----------------------------------
  step('watch the chart grow');
  await page.getByRole('heading', { level: 1, name: 'e2e-cartpole' }).waitFor();
  // Where the job runs arrives with the job's events, not only on a reload (issue 24, bug 4).
  await page.waitForFunction(() => /^cpu/.test(document.querySelector('#job-executor')?.textContent || ''), null, { timeout: 15000 })
    .catch(async () => check(false, `the executor appears while the page is open (${await page.locator('#job-executor').textContent()})`));
  check(/environments' scores multiplied \(combine: product\)/.test(await page.locator('.fitness-note').first().textContent()), 'the job page explains fitness with its spec\'s combine');
  const chart = page.locator('[data-chart="fitness"]');
  const points = async () => Number(await chart.getAttribute('data-points'));
  await page.waitForFunction(() => Number(document.querySelector('[data-chart="fitness"]')?.dataset.points) > 0);
  const samples = [await points()];
  const growUntil = Date.now() + 30000;
  while (samples.at(-1) < GENERATIONS && Date.now() < growUntil) {
    await page.waitForTimeout(150);
    const n = await points();
    if (n !== samples.at(-1)) samples.push(n);
  }
  summary.plotted_points_seen = samples;
  check(samples[0] < GENERATIONS, `the job page opened before the run ended (first saw ${samples[0]} points)`);
  check(samples.length >= 3, `the chart grew live in several steps: ${samples.join(' → ')}`);
  check(samples.every((n, i) => i === 0 || n > samples[i - 1]), 'the number of points only grows');
  check(samples.at(-1) === GENERATIONS, `every generation is plotted (${samples.at(-1)})`);
  check(await chart.locator('canvas').count() === 1, 'the fitness chart is drawn on a canvas');
  await page.waitForFunction((last) => Number(document.querySelector('[data-chart="fitness"]').dataset.xMax) === last, GENERATIONS - 1, { timeout: 3000 })
    .catch(async () => check(false, `the chart's x axis follows the data to the last generation (${await chart.getAttribute('data-x-max')})`));
  for (const name of ['envs', 'sigma', 'throughput']) {
    check(await page.locator(`[data-chart="${name}"] canvas`).count() === 1, `the ${name} chart is drawn`);
  }
  await page.locator('.badge.status-succeeded').first().waitFor({ timeout: 20000 });
  check((await page.locator('#best-fitness').textContent()) !== '—', 'the best fitness is shown');
  const throughput = await page.locator('#job-throughput').textContent();
  check(/^\d+(\.\d+)? ([kM] )?steps\/s$/.test(throughput), `the throughput reads as steps per second (${throughput})`);
  await page.waitForFunction(() => /CPU/.test(document.querySelector('#job-compute')?.textContent || ''), null, { timeout: 10000 })
    .catch(async () => check(false, `the job's compute is shown (${await page.locator('#job-compute').textContent()})`));

  // ---- genomes: download one as JSON --------------------------------------------------------
  step('download a genome');
  const finalBest = page.locator('#genome-table tr[data-kind="final_best"]');
  await finalBest.waitFor();
  const downloadEvent = page.waitForEvent('download');
  await finalBest.locator('a[data-format="json"]').click();
  const download = await downloadEvent;
  const genomePath = join(artifacts, 'genome.json');
  await download.saveAs(genomePath);
  const genome = JSON.parse(readFileSync(genomePath, 'utf8'));
  check(Array.isArray(genome.values) && genome.values.length === 565, `the genome holds 565 values (${genome.values?.length})`);
  check(genome.values.every((v) => typeof v === 'number' && Number.isFinite(v)), 'the genome values are finite numbers');
  check(download.suggestedFilename().endsWith('.json'), `the download is named *.json (${download.suggestedFilename()})`);
  const safetensors = await finalBest.locator('a[data-format="safetensors"]').getAttribute('href');
  check(safetensors.includes('format=safetensors'), 'a safetensors download is offered');
  summary.genome_file = download.suggestedFilename();

  // Each genome is listed once, with every kind it was kept as; the best one has its own
  // downloads.
  const shas = await page.$$eval('#genome-table tbody tr', (rows) => rows.map((r) => r.dataset.sha256));
  check(shas.length > 0 && new Set(shas).size === shas.length, `each genome is listed once: ${shas}`);
  check((await finalBest.getAttribute('data-kinds')).split(' ').includes('generation_best'),
    `the final best is also listed as the last new best (${await finalBest.getAttribute('data-kinds')})`);
  check((await page.locator('#best-genome-json').getAttribute('data-genome-id')) === (await finalBest.getAttribute('data-genome-id')),
    'the best-genome download is the final best');
  check((await page.locator('#best-genome-safetensors').getAttribute('href')).includes('format=safetensors'), 'the best genome comes as safetensors too');

  // ---- chart options: integer generation ticks, last values in the legend, EMA, log scale ----
  step('chart options');
  const ticks = (await chart.getAttribute('data-x-ticks')).split(',').map(Number);
  check(ticks.length > 1 && ticks.every(Number.isInteger), `generation ticks are integers: ${ticks}`);
  const fmt = (v) => (Math.abs(v) !== 0 && (Math.abs(v) >= 1e5 || Math.abs(v) < 1e-3) ? v.toExponential(1) : String(Number(v.toPrecision(4))));
  const legend = (label) => chart.locator('.u-legend tr.u-series').filter({ has: page.locator('th', { hasText: new RegExp(`^${label}$`) }) }).locator('td.u-value');
  const history = await (await page.request.get(`${url}/api/v1/jobs/${jobId}/history`)).json();
  const means = history.map((r) => r.fitness.mean);
  const legendIs = (label, value, message) =>
    eventually(async () => (await legend(label).textContent()) === value, `${message} (${value})`);
  await legendIs('best so far', fmt(history.at(-1).best_so_far), 'the legend shows the last best so far');
  await legendIs('mean', fmt(means.at(-1)), 'the legend shows the last mean');
  await page.locator('#fitness-smoothing').evaluate((el) => { el.value = '0.9'; el.dispatchEvent(new Event('input', { bubbles: true })); });
  const smoothed = means.reduce((avg, v) => (avg === null ? v : 0.9 * avg + 0.1 * v), null);
  await page.waitForFunction(() => document.querySelector('[data-chart="fitness"]').dataset.smoothing === '0.9');
  await legendIs('mean', fmt(smoothed), 'the legend shows the smoothed mean');
  await page.locator('#fitness-log').check();
  await page.waitForFunction(() => document.querySelector('[data-chart="fitness"]').dataset.log === 'true');
  check(await chart.locator('canvas').count() === 1, 'the log-scale chart is drawn once');
  await legendIs('mean', fmt(smoothed), 'the log-scale chart keeps the smoothing');

  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(artifacts, 'job-page.png'), fullPage: true });

  // ---- name, tags and notes: edited in a dialog, kept by the server ---------------------------
  step('edit name, tags and notes');
  const notes = 'σ0 = 0.5 looked better.\nSecond line.';
  await page.locator('#edit-job').click();
  const editor = page.getByRole('dialog', { name: 'Edit job' });
  await editor.getByLabel('Name').fill('e2e-cartpole renamed');
  await editor.getByLabel('Tags (comma-separated)').fill('e2e, dashboard, edited');
  await editor.getByLabel('Notes').fill(notes);
  await editor.getByRole('button', { name: 'Save' }).click();
  await editor.waitFor({ state: 'detached' });
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'e2e-cartpole renamed' }).waitFor();
  check((await page.locator('#job-notes').textContent()) === notes, 'the notes survive a reload');
  check((await page.locator('.title-block .tag').allTextContents()).join() === 'e2e,dashboard,edited', 'the tags survive a reload');
  // A dialog belongs to its page: Back closes it (Save must never reach another job).
  await page.locator('#edit-job').click();
  await page.getByRole('dialog', { name: 'Edit job' }).waitFor();
  const jobPage = page.url();
  await page.goBack();
  await page.waitForURL((u) => u.toString() !== jobPage);
  check(await page.locator('dialog[open]').count() === 0, 'no dialog survives leaving its page');
  await page.goto(jobPage);
  await page.getByRole('heading', { level: 1, name: 'e2e-cartpole renamed' }).waitFor();

  // ---- replay the best genome: animation, outputs, network, heat map ---------------------------
  step('replay the best genome');
  const replayLoaded = () => page.evaluate(() => performance.getEntriesByType('resource').some((e) => e.name.includes('/views/replay.js')));
  check(!(await replayLoaded()), 'the replay view is not loaded with the job page');
  check(await page.locator('#replay').evaluate((el) => el.childElementCount === 0), 'nothing of the replay is drawn before it is asked for');
  await page.locator('#replay-best:enabled').waitFor();
  check(JSON.stringify(await page.locator('#replay-env option').allTextContents()) === '["CartPole-v1"]', 'the environments are the job\'s');
  await page.locator('#replay-seed').fill('3');
  await page.locator('#replay-episodes').fill('2');
  const replayResponse = page.waitForResponse((r) => r.url().includes('/replay?'));
  await page.locator('#replay-best').click();
  const replayAnswer = await replayResponse;
  check(replayAnswer.status() === 200, `the replay is served (${replayAnswer.status()})`);
  check(/env=CartPole-v1/.test(replayAnswer.url()) && /seed=3/.test(replayAnswer.url()) && /episode_mode=stop_on_done/.test(replayAnswer.url()),
    `the replay asks for the chosen environment and seed in the job's episode mode (${replayAnswer.url()})`);
  const replayData = await replayAnswer.json();
  check(await replayLoaded(), 'the replay view loads on the click');
  await page.waitForFunction(() => document.getElementById('replay')?.dataset.step === '0');
  const totalSteps = replayData.trace.episodes.reduce((n, e) => n + e.actions.length, 0);
  // Pixels that are not the light background.
  const inked = (id) => page.evaluate((id) => {
    const c = document.getElementById(id);
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200) n += 1;
    return n;
  }, id);
  check((await inked('replay-scene')) > 500, 'the cart and pole are drawn');
  const frame0 = await page.locator('#replay-scene').evaluate((c) => c.toDataURL());
  const counter0 = await page.locator('#replay-counter').textContent();
  const shownTotal = totalSteps.toLocaleString('en-US');
  check(counter0.startsWith(`step 1 / ${shownTotal}`), `the counter shows the step (${counter0})`);
  await page.locator('#replay-play').click();
  const target = Math.min(10, totalSteps - 1);
  await page.waitForFunction((n) => Number(document.getElementById('replay').dataset.step) >= n, target, { timeout: 10000 });
  if ((await page.locator('#replay-play').textContent()) === 'Pause') await page.locator('#replay-play').click();
  const frame1 = await page.locator('#replay-scene').evaluate((c) => c.toDataURL());
  check(frame1 !== frame0, 'the animation moves on as it plays');
  check((await page.locator('#replay-counter').textContent()) !== counter0, 'the step counter moves on');
  await page.locator('#replay-step').evaluate((el, last) => { el.value = String(last); el.dispatchEvent(new Event('input', { bubbles: true })); }, totalSteps - 1);
  check((await page.locator('#replay-counter').textContent()).startsWith(`step ${shownTotal} / ${shownTotal}`), 'the slider moves to the last step');
  check(await page.locator('#replay-outputs canvas').count() >= 1, 'the action-node outputs are charted');
  const graphNodes = await page.locator('#replay-graph .net-node').count();
  check(graphNodes === replayData.trace.wiring.nodes && graphNodes === 32, `the graph has a node per network node (${graphNodes})`);
  check(await page.locator('#replay-graph .net-edge').count() === replayData.trace.wiring.edges.length, 'the graph has a line per synapse');
  check(await page.locator('#replay-graph .net-input').count() === 4 && await page.locator('#replay-graph .net-output').count() === 2, 'inputs and outputs by role');
  check((await inked('replay-heatmap')) > 1000, 'the heat map is drawn');
  summary.replay = { steps: totalSteps, synapses: replayData.trace.wiring.edges.length, returns: replayData.returns };
  await page.locator('section[aria-labelledby="replay-title"]').screenshot({ path: join(artifacts, 'replay.png') });

  // ---- evaluate the genome ------------------------------------------------------------------
  step('evaluate the genome');
  await finalBest.getByRole('button', { name: 'Evaluate…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Evaluate this genome' });
  await dialog.waitFor();
  await dialog.getByLabel('Episodes per lifetime').fill('2');
  await dialog.getByLabel('Seeds (comma-separated)').fill('0, 1');
  await dialog.getByRole('button', { name: 'Queue evaluation' }).click();
  await dialog.getByRole('link', { name: 'Open the evaluation' }).click();
  await page.waitForURL(/#\/jobs\/[0-9a-f-]{36}$/);
  check(!page.url().endsWith(jobId), 'the evaluation is a job of its own');
  await page.locator('.result-table').waitFor({ timeout: 30000 });
  check(await page.locator('.result-table tbody tr').count() === 3, 'two lifetimes and their mean are listed');

  // ---- the list, filtered, and the comparison -----------------------------------------------
  step('job list and comparison');
  await page.getByRole('link', { name: 'Jobs', exact: true }).first().click();
  const row = page.locator(`tr[data-job-id="${jobId}"]`);
  await row.waitFor();
  check((await row.getAttribute('data-status')) === 'succeeded', 'the list shows the job succeeded');
  check((await row.locator('.progress-text').textContent()) === `${GENERATIONS} / ${GENERATIONS}`, 'the list shows full progress');
  await page.getByLabel('Tag', { exact: true }).fill('e2e');
  await page.waitForURL(/#\/\?tag=e2e$/);
  // Only jobs tagged e2e remain: ours, not its evaluation.
  await page.waitForFunction((id) => {
    const rows = [...document.querySelectorAll('#job-table tbody tr[data-job-id]')];
    return rows.some((r) => r.dataset.jobId === id) &&
      rows.every((r) => [...r.querySelectorAll('.tag')].some((t) => t.textContent === 'e2e'));
  }, jobId);
  await page.screenshot({ path: join(artifacts, 'job-list.png'), fullPage: true });

  // Sortable headers and the name search, kept in the address.
  await page.getByLabel('Tag', { exact: true }).fill('');
  await page.waitForURL(/#\/$/);
  const firstRow = () => page.locator('#job-table tbody tr[data-job-id]').first().getAttribute('data-job-id');
  const rowCount = () => page.locator('#job-table tbody tr[data-job-id]').count();
  await page.locator('button[data-sort="best"]').click();
  await page.waitForURL(/sort=-best/);
  await page.waitForFunction((id) => document.querySelector('#job-table tbody tr[data-job-id]')?.dataset.jobId === id, jobId);
  check((await page.locator('th[aria-sort="descending"] button[data-sort="best"]').count()) === 1, 'the best-fitness header says it sorts descending');
  await page.locator('button[data-sort="best"]').click();
  await page.waitForURL(/sort=best/);
  // Ascending, the evaluation (which has no fitness) comes first.
  await page.waitForFunction((id) => {
    const rows = [...document.querySelectorAll('#job-table tbody tr[data-job-id]')];
    return rows.length === 2 && rows[1].dataset.jobId === id;
  }, jobId);
  await page.getByLabel('Search').fill('RENAMED');
  await page.waitForURL(/q=RENAMED/);
  await page.waitForFunction(() => document.querySelectorAll('#job-table tbody tr[data-job-id]').length === 1);
  check((await firstRow()) === jobId && (await rowCount()) === 1, 'the search finds the renamed job only');
  await page.goto(`${url}#/compare?ids=${jobId}`);
  await page.locator('[data-chart="compare-best"] canvas').waitFor();
  await page.locator(`#pick-${jobId}:checked`).waitFor();
  check(FITNESS_NOTE.test(await page.locator('.fitness-note').first().textContent()), 'the compare page explains fitness');
  // A second job on two environments: one chart per environment, each with one line per job
  // that ran it, and σ for both. Legends keep full names.
  const twoEnvs = await page.request.post(`${url}/api/v1/jobs`, {
    data: { name: 'e2e-two-envs', envs: ['CartPole-v1', 'Acrobot-v1'], lifetime: { episodes: 1, episode_mode: 'stop_on_done' }, strategy: { popsize: 4 }, generations: 3 },
  });
  check(twoEnvs.status() === 201, `the two-environment job is queued (${twoEnvs.status()})`);
  const twoId = (await twoEnvs.json()).id;
  await page.goto(`${url}#/compare?ids=${jobId},${twoId}`);
  const seriesCount = (selector) => page.locator(`${selector} .u-legend .u-series`).count().then((n) => n - 1);
  await page.waitForFunction(() => document.querySelectorAll('[data-chart="compare-env"] canvas').length === 2, null, { timeout: 30000 });
  const envCharts = await page.locator('[data-chart="compare-env"]').evaluateAll((els) => els.map((e) => e.dataset.env));
  check(envCharts.join(',') === 'CartPole-v1,Acrobot-v1', `one chart per environment (got ${envCharts})`);
  check(await seriesCount('[data-chart="compare-env"][data-env="CartPole-v1"]') === 2, 'CartPole overlays both jobs');
  check(await seriesCount('[data-chart="compare-env"][data-env="Acrobot-v1"]') === 1, 'Acrobot has the one job that ran it');
  check(await seriesCount('[data-chart="compare-sigma"]') === 2, 'σ overlays both jobs');
  // Once the second job has run, σ is drawn for every generation of both (30 + 3).
  await page.waitForFunction((n) => Number(document.querySelector('[data-chart="compare-sigma"]')?.dataset.points) === n, GENERATIONS + 3, { timeout: 60000 })
    .catch(async () => check(false, `σ is drawn for both jobs (${await page.locator('[data-chart="compare-sigma"]').getAttribute('data-points')} points)`));
  const legendNames = await page.locator('.compare-legend .legend-item').evaluateAll((els) => els.map((e) => e.childNodes[1].textContent));
  const jobName = (await (await page.request.get(`${url}/api/v1/jobs/${jobId}`)).json()).name;
  check(legendNames.join('|') === `${jobName}|e2e-two-envs`, `the legend shows the full names (${legendNames})`);
  await page.screenshot({ path: join(artifacts, 'compare.png'), fullPage: true });

  // ---- compare like a tracker: smoothing, normalised scores, x axes, log ticks, the address ------
  step('compare: smoothing, scores, x axes, log scale, the view in the address');
  // Six short runs to group: three seeds × two strategies (they run while the single job is checked).
  const groupSweep = await page.request.post(`${url}/api/v1/sweeps`, {
    data: {
      name: 'e2e-groups',
      spec: { envs: ['CartPole-v1'], lifetime: { episodes: 1, episode_mode: 'stop_on_done' }, strategy: { popsize: 4 }, generations: 3 },
      axes: { seed: [1, 2, 3], 'strategy.name': ['cma_es', 'sep_cma_es'] },
    },
  });
  check(groupSweep.status() === 201, `the grouping sweep is queued (${groupSweep.status()})`);
  const groupSweepId = (await groupSweep.json()).id;
  const groupJobs = (await (await page.request.get(`${url}/api/v1/sweeps/${groupSweepId}`)).json()).jobs;
  const groupIds = groupJobs.map((j) => j.id);
  const sepIds = groupJobs.filter((j) => j.spec.strategy.name === 'sep_cma_es').map((j) => j.id);
  check(groupIds.length === 6 && sepIds.length === 3, `six runs, three of them sep_cma_es (${groupIds.length}, ${sepIds.length})`);
  const mainChart = await (await page.request.get(`${url}/api/v1/jobs/${jobId}/history/chart?max_points=600&series=envs,sigma`)).json();
  check(mainChart.steps?.length === mainChart.generation.length && mainChart.wall_seconds?.length === mainChart.generation.length,
    'the chart endpoint carries steps and wall seconds per bucket');
  const emaOf = (values, w) => values.reduce((avg, v) => (v === null ? avg : avg === null ? v : w * avg + (1 - w) * v), null);
  await page.goto(`${url}#/compare?ids=${jobId}`);
  const cmpMean = page.locator('[data-chart="compare-mean"]');
  await cmpMean.locator('canvas').waitFor();
  const lastValue = (chartLocator) => chartLocator.locator('.u-legend tr.u-series').nth(1).locator('td.u-value').textContent();
  await eventually(async () => (await lastValue(cmpMean)) === fmt(mainChart.mean_max.at(-1)), 'the mean chart ends at the job\'s last mean');
  await page.locator('#compare-smoothing').evaluate((el) => { el.value = '0.9'; el.dispatchEvent(new Event('input', { bubbles: true })); });
  await eventually(async () => (await lastValue(cmpMean)) === fmt(emaOf(mainChart.mean_max, 0.9)), `smoothing draws the EMA of the mean (${fmt(emaOf(mainChart.mean_max, 0.9))})`);
  // Per environment: the raw return, or the score it normalises to with CartPole's bounds.
  const cartpole = (await (await page.request.get(`${url}/api/v1/envs`)).json()).find((e) => e.name === 'CartPole-v1');
  const cmpCartPole = page.locator('[data-chart="compare-env"][data-env="CartPole-v1"]');
  const rawReturn = emaOf(mainChart.envs[0].mean_return_max, 0.9);
  await eventually(async () => (await lastValue(cmpCartPole)) === fmt(rawReturn), `the environment chart shows the smoothed raw return (${fmt(rawReturn)})`);
  await page.locator('#compare-env-metric').selectOption('mean_score');
  const score = (rawReturn - cartpole.return_min) / (cartpole.return_max - cartpole.return_min);
  await eventually(async () => (await lastValue(cmpCartPole)) === fmt(score), `the environment chart shows the normalised score (${fmt(score)})`);
  // The x axis: generation, environment steps, wall time.
  check(Number(await cmpMean.getAttribute('data-x-max')) === GENERATIONS - 1, 'the x axis ends at the last generation');
  const xMaxIs = (value, message) => page.waitForFunction((v) => Number(document.querySelector('[data-chart="compare-mean"]')?.dataset.xMax) === v, value, { timeout: 5000 })
    .catch(async () => check(false, `${message} (${value}, got ${await cmpMean.getAttribute('data-x-max')})`));
  await page.locator('#compare-x').selectOption('steps');
  await xMaxIs(mainChart.steps.at(-1), 'against environment steps the x axis ends at the job\'s steps');
  await eventually(async () => (await page.locator('[data-chart="compare-best"]').getAttribute('data-x-max')) === String(mainChart.steps.at(-1)), 'every chart follows the x axis');
  await page.locator('#compare-x').selectOption('wall');
  await xMaxIs(mainChart.wall_seconds.at(-1), 'against wall time the x axis ends at the job\'s seconds');
  // A log axis with ticks inside each decade, not only at its powers of ten.
  await page.locator('#compare-log').check();
  await page.waitForFunction(() => document.querySelector('[data-chart="compare-mean"]')?.dataset.log === 'true');
  const logTicks = (await cmpMean.getAttribute('data-y-ticks')).split(',').map(Number);
  check(logTicks.length > 2 && logTicks.every((t) => t > 0), `the log axis has more than two ticks, all above 0 (${logTicks})`);
  // The address holds the view: a reload shows the same.
  await page.waitForURL((u) => ['smooth=0.9', 'log=1', 'x=wall', 'env=mean_score', `ids=${jobId}`].every((part) => u.hash.includes(part)));
  await page.reload();
  await cmpMean.locator('canvas').waitFor();
  check(await page.locator('#compare-smoothing').inputValue() === '0.9' && await page.locator('#compare-log').isChecked() &&
    await page.locator('#compare-x').inputValue() === 'wall' && await page.locator('#compare-env-metric').inputValue() === 'mean_score',
  'a reload restores smoothing, log scale, x axis and environment quantity');
  await page.locator(`#pick-${jobId}:checked`).waitFor();
  await xMaxIs(mainChart.wall_seconds.at(-1), 'a reload draws against wall time again');
  await eventually(async () => (await lastValue(cmpMean)) === fmt(emaOf(mainChart.mean_max, 0.9)), 'a reload draws the smoothed mean again');
  await page.screenshot({ path: join(artifacts, 'compare-options.png'), fullPage: true });
  // The picker: a search finds jobs; the compared ones stay on top, whether they match or not.
  await page.locator('#compare-search').fill('sep_cma');
  await eventually(async () => {
    const listed = await page.locator('#compare-picker li').evaluateAll((els) => els.map((e) => e.dataset.jobId));
    return listed.length === 4 && listed[0] === jobId && sepIds.every((id) => listed.includes(id));
  }, 'the search lists the three sep_cma_es runs under the pinned job');
  check(await page.locator('#compare-picker li').first().evaluate((li) => li.classList.contains('picked')), 'the compared job is pinned first');
  // Names wrap between words (a hyphen counts as a break), never inside one that fits a line.
  const brokenWords = await page.locator('#compare-picker .pick-name').evaluateAll((els) => els.flatMap((el) => {
    const text = el.firstChild;
    const ctx = document.createElement('canvas').getContext('2d');
    ctx.font = getComputedStyle(el).font;
    return [...text.textContent.matchAll(/[^\s-]+/g)].filter((m) => {
      if (ctx.measureText(m[0]).width > el.clientWidth) return false;
      const range = document.createRange();
      range.setStart(text, m.index);
      range.setEnd(text, m.index + m[0].length);
      return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size > 1;
    }).map((m) => m[0]);
  }));
  check(brokenWords.length === 0, `job names wrap at word boundaries (broken: ${brokenWords})`);

  step('compare: groups drawn as bands');
  // The six runs finish before their bands are compared.
  for (const until = Date.now() + 60000; ;) {
    const statuses = await Promise.all(groupIds.map(async (id) => (await (await page.request.get(`${url}/api/v1/jobs/${id}`)).json()).status));
    if (statuses.every((s) => s === 'succeeded')) break;
    check(Date.now() < until, `the six grouping runs finish (${statuses})`);
    await page.waitForTimeout(300);
  }
  await page.goto(`${url}#/compare?ids=${[...groupIds, jobId].join(',')}&group=seed`);
  const groupsOn = (n, message) => page.waitForFunction((g) => document.querySelector('[data-chart="compare-mean"]')?.dataset.groups === String(g), n, { timeout: 10000 })
    .catch(async () => check(false, `${message} (got ${await cmpMean.getAttribute('data-groups')})`));
  await groupsOn(4, 'grouped by seed: seeds 1, 2, 3 and 7');
  check(await seriesCount('[data-chart="compare-mean"]') === 12, 'each group is a center line and a band\'s two edges');
  check(await seriesCount('[data-chart="compare-best"]') === 12 && await seriesCount('[data-chart="compare-sigma"]') === 12, 'on every chart');
  const groupNames = () => page.locator('.compare-legend .legend-group').evaluateAll((els) => els.map((e) => e.childNodes[1].textContent));
  check((await groupNames()).join('|') === 'seed=1|seed=2|seed=3|seed=7', `one group per seed, in order (${await groupNames()})`);
  await page.locator('#compare-group').selectOption('variant');
  await groupsOn(3, 'grouped by sweep variant: two strategies and the job outside the sweep');
  check((await groupNames()).join('|') === 'strategy.name=cma_es|strategy.name=sep_cma_es|not in a sweep', `one group per variant (${await groupNames()})`);
  await page.waitForURL((u) => u.hash.includes('group=variant'));
  await page.locator('#compare-band').selectOption('range');
  await page.waitForURL((u) => u.hash.includes('band=range'));
  await page.reload();
  await groupsOn(3, 'a reload keeps the grouping');
  check(await page.locator('#compare-group').inputValue() === 'variant' && await page.locator('#compare-band').inputValue() === 'range',
    'a reload restores the grouping and the band');
  check(await page.locator('#compare-picker li.picked').count() === 7, 'a reload restores the selection');
  await page.screenshot({ path: join(artifacts, 'compare-groups.png'), fullPage: true });
  // The band is the spread the user chose: min–max and ± std put a variant's low edge apart.
  await page.goto(`${url}#/compare?ids=${groupIds.join(',')}&group=variant`);
  await groupsOn(2, 'the sweep alone has two variants');
  const cmpBest = page.locator('[data-chart="compare-best"]');
  const lowEdge = () => cmpBest.locator('.u-legend tr.u-series').nth(2).locator('td.u-value').textContent();
  await eventually(async () => (await lowEdge()) !== '—', 'the band has a low edge');
  const lowStd = await lowEdge();
  await page.locator('#compare-band').selectOption('range');
  const groupCharts = await Promise.all(groupJobs.filter((j) => j.spec.strategy.name === 'cma_es')
    .map(async (j) => (await (await page.request.get(`${url}/api/v1/jobs/${j.id}/history/chart`)).json()).best_so_far.value.at(-1)));
  await eventually(async () => (await lowEdge()) === fmt(Math.min(...groupCharts)), `min–max: the low edge is the lowest best so far (${fmt(Math.min(...groupCharts))}, was ${lowStd})`);

  step('compare: eight jobs side by side');
  await page.goto(`${url}#/compare?ids=${[...groupIds, jobId, twoId].join(',')}`);
  await page.waitForFunction(() => document.querySelectorAll('#spec-diff thead th').length === 9 && document.querySelector('#spec-diff tr[data-field="strategy.name"]'));
  check(await page.locator('#compare-picker li.picked').count() === 8, 'eight jobs are compared');
  const headCase = await page.evaluate(() => [...document.querySelectorAll('#spec-diff thead th')].filter((th) => th.textContent.includes('cma_es'))
    .map((th) => ({ transform: getComputedStyle(th).textTransform, shown: th.innerText })));
  check(headCase.length === 6 && headCase.every((c) => c.transform === 'none' && c.shown.includes('cma_es')), `job names keep their case (${JSON.stringify(headCase[0])})`);
  const strategies = await page.evaluate(() => [...document.querySelectorAll('#spec-diff tr[data-field="strategy.name"] td')].map((td) => td.innerText));
  check(strategies.includes('cma_es') && strategies.includes('sep_cma_es'), `values keep their case (${strategies})`);
  const widths = await page.evaluate(() => ({
    page: document.documentElement.scrollWidth, view: document.documentElement.clientWidth,
    card: document.querySelector('#spec-diff').closest('.card').getBoundingClientRect().right,
  }));
  check(widths.page <= widths.view && widths.card <= widths.view, `the spec table stays within the page (${JSON.stringify(widths)})`);
  await page.screenshot({ path: join(artifacts, 'compare-eight.png'), fullPage: true });

  // ---- the job list as a run table ---------------------------------------------------------------
  step('the run table: columns, sorting, filters, bulk tag and delete');
  await page.goto(`${url}#/`);
  await page.locator(`#job-table tr[data-job-id="${twoId}"]`).waitFor();
  await page.locator('#job-columns summary').click();
  for (const key of ['seed', 'strategy', 'compute']) await page.locator(`#column-${key}`).check();
  await page.locator('#job-columns summary').click();
  await page.locator('th[data-column="seed"]').waitFor();
  const columnText = (key) => page.$$eval(`#job-table tbody tr[data-job-id]:not([hidden]) td[data-column="${key}"]`, (tds) => tds.map((td) => td.textContent));
  const ordered = (values, sign) => {
    const nums = values.filter((v) => v !== '—').map(Number);
    const firstMissing = values.indexOf('—');
    return nums.length >= 7 && nums.every((n, i) => i === 0 || sign * (n - nums[i - 1]) >= 0) && (firstMissing < 0 || values.slice(firstMissing).every((v) => v === '—'));
  };
  await page.locator('button[data-sort="seed"]').click();
  await page.waitForURL(/sort=seed$/);
  await eventually(async () => ordered(await columnText('seed'), 1), 'the rows sort by seed, ascending, jobs without one last');
  await page.locator('button[data-sort="seed"]').click();
  await page.waitForURL(/sort=-seed$/);
  await eventually(async () => ordered(await columnText('seed'), -1), 'a second click sorts descending');
  const computeCell = await page.locator(`tr[data-job-id="${jobId}"] td[data-column="compute"]`).textContent();
  check(/wall · .* CPU$/.test(computeCell), `the compute column shows wall and CPU time (${computeCell})`);
  // The columns are remembered.
  await page.reload();
  await page.locator('th[data-column="compute"]').waitFor();
  check(await page.locator('th[aria-sort="descending"] button[data-sort="seed"]').count() === 1, 'a reload keeps the columns and the order');
  // A filter per column: text, or a comparison for numbers.
  await page.locator('#column-filter-strategy').fill('sep_cma');
  await eventually(async () => (await columnText('strategy')).join() === 'sep_cma_es,sep_cma_es,sep_cma_es', 'the strategy filter keeps the three sep_cma_es runs');
  await page.locator('#column-filter-seed').fill('>= 2');
  await eventually(async () => (await columnText('seed')).join() === '3,2', 'a numeric filter keeps seeds 2 and 3');
  await page.locator('#column-filter-seed').fill('');
  await page.locator('#column-filter-strategy').fill('');
  // The sweep filter asks the server for one sweep's jobs.
  await page.locator('#filter-sweep').selectOption(groupSweepId);
  await page.waitForURL((u) => u.hash.includes(`sweep=${groupSweepId}`));
  await eventually(async () => {
    const listed = await page.$$eval('#job-table tbody tr[data-job-id]', (trs) => trs.map((tr) => tr.dataset.jobId));
    return listed.length === 6 && listed.every((id) => groupIds.includes(id));
  }, 'the sweep filter lists the sweep\'s six jobs');
  // Bulk tag: the chosen tags are added to each selected job's own.
  for (const id of sepIds.slice(0, 2)) await page.locator(`tr[data-job-id="${id}"] td.col-select input`).check();
  await page.locator('#tag-selected').click();
  const tagDialog = page.getByRole('dialog', { name: 'Tag jobs' });
  await tagDialog.getByLabel('Tags to add or remove (comma-separated)').fill('bulk-a, bulk-b');
  await tagDialog.getByRole('button', { name: 'Add these tags' }).click();
  await eventually(async () => {
    const tags = await Promise.all(sepIds.slice(0, 2).map((id) => page.locator(`tr[data-job-id="${id}"] .tag`).allTextContents()));
    return tags.every((t) => t.join() === 'bulk-a,bulk-b');
  }, 'both selected jobs show the new tags');
  check(await page.locator(`tr[data-job-id="${sepIds[2]}"] .tag`).count() === 0, 'an unselected job keeps its tags');
  const tagged = await (await page.request.get(`${url}/api/v1/jobs/${sepIds[0]}`)).json();
  check(tagged.tags.join() === 'bulk-a,bulk-b', `the server keeps the tags (${tagged.tags})`);
  // Bulk delete: a finished job goes, a running one is skipped and the report says why.
  const longJob = await page.request.post(`${url}/api/v1/jobs`, {
    data: { name: 'e2e-long', envs: ['CartPole-v1'], lifetime: { episodes: 1, episode_mode: 'stop_on_done' }, strategy: { popsize: 4 }, generations: 5000 },
  });
  check(longJob.status() === 201, `a long job is queued (${longJob.status()})`);
  const longId = (await longJob.json()).id;
  await page.locator('#filter-sweep').selectOption('');
  await page.waitForURL(/#\/\?sort=-seed$/);
  // Running, not queued (a queued job can be deleted: it leaves the queue).
  await page.locator(`tr[data-job-id="${longId}"][data-status="running"]`).waitFor();
  await page.locator(`tr[data-job-id="${twoId}"] td.col-select input`).check();
  await page.locator(`tr[data-job-id="${longId}"] td.col-select input`).check();
  await page.locator('#delete-selected').click();
  const confirmDelete = page.getByRole('dialog', { name: 'Delete jobs' });
  await confirmDelete.waitFor();
  check(/1 running job will be skipped/.test(await confirmDelete.textContent()), 'the confirmation says the running job is skipped');
  await confirmDelete.getByRole('button', { name: 'Delete 1 job' }).click();
  await page.locator(`tr[data-job-id="${twoId}"]`).waitFor({ state: 'detached' });
  await page.locator('.toast', { hasText: 'Deleted 1 job. Skipped 1 running job: cancel first.' }).waitFor();
  // The server announces the deletion as a job event: the row must stay gone.
  await page.waitForTimeout(300);
  check(await page.locator(`tr[data-job-id="${twoId}"]`).count() === 0, 'the deleted job does not come back');
  check(await page.locator(`tr[data-job-id="${longId}"]`).count() === 1, 'the running job stays');
  check((await page.request.get(`${url}/api/v1/jobs/${twoId}`)).status() === 404, 'the deleted job is gone from the server');
  check((await page.request.post(`${url}/api/v1/jobs/${longId}/cancel`)).ok(), 'the long job is cancelled');
  await page.screenshot({ path: join(artifacts, 'run-table.png'), fullPage: true });

  // ---- a sweep: two variants × two seeds, drawn as bands -----------------------------------------
  step('a sweep and its variants');
  const sweepResponse = await page.request.post(`${url}/api/v1/sweeps`, {
    data: {
      name: 'e2e-sweep',
      spec: { envs: ['CartPole-v1'], lifetime: { episodes: 1, episode_mode: 'stop_on_done' }, strategy: { popsize: 4 }, generations: 2, tags: ['sweep'] },
      axes: { seed: [1, 2], 'strategy.sigma0': [0.05, 0.5] },
    },
  });
  check(sweepResponse.status() === 201, `the sweep is queued (${sweepResponse.status()})`);
  const sweepId = (await sweepResponse.json()).id;
  await page.getByRole('link', { name: 'Sweeps', exact: true }).click();
  await page.locator(`tr[data-sweep-id="${sweepId}"] a`).click();
  await page.waitForURL(new RegExp(`#/sweeps/${sweepId}$`));
  await page.locator('#variant-table tr[data-variant="strategy.sigma0=0.05"]').waitFor();
  check(await page.locator('#variant-table tbody tr').count() === 2, 'one row per variant');
  check(await page.locator('#variant-table tr[data-variant="strategy.sigma0=0.5"] a.sweep-member').count() === 2, 'a variant lists its two seeds');
  await page.locator('[data-chart="sweep-best"] canvas').waitFor();
  // The bands fill in as the four runs finish (the worker runs them after the job above).
  await page.waitForFunction(() => Number(document.querySelector('[data-chart="sweep-best"]')?.dataset.points) > 0, null, { timeout: 60000 });
  await page.locator('#sweep-spread').selectOption('range');
  // Raw returns per environment, and what each variant and the sweep cost.
  await page.locator('[data-chart="sweep-env-CartPole-v1"] canvas').waitFor();
  await page.waitForFunction(() => /CPU/.test(document.querySelector('#sweep-compute')?.textContent || ''), null, { timeout: 60000 });
  check(await page.locator('#variant-table td.compute').count() === 2, 'each variant shows its compute');
  // The final evaluation: the page queues one evaluation per finished run's final mean genome and
  // pools their lifetimes per variant, with the share that reaches CartPole's threshold.
  // Every run finished first: the button queues the final genomes that exist when it is clicked.
  await page.waitForFunction(() => document.querySelectorAll('#variant-table a.sweep-member .status-succeeded').length === 4, null, { timeout: 90000 });
  await page.waitForFunction(() => document.querySelector('#sweep-evaluate') && !document.querySelector('#sweep-evaluate').disabled, null, { timeout: 60000 });
  await page.locator('#sweep-evaluate').click();
  await page.locator('#evaluation-table tr[data-variant] td[data-env="CartPole-v1"]').first().waitFor({ timeout: 90000 });
  await page.waitForFunction(() => [...document.querySelectorAll('#evaluation-table tr[data-variant] td:nth-child(3)')].every((td) => td.textContent === '2 of 2'), null, { timeout: 90000 })
    .catch(() => check(false, 'every run of both variants is evaluated'));
  const evalCell = await page.locator('#evaluation-table tr[data-variant] td[data-env="CartPole-v1"]').first().textContent();
  check(/ ± .*\/128 solved$/.test(evalCell), `the evaluation pools two runs' 64 lifetimes with the solved share (${evalCell})`);
  // The meta-tests: other structures and the environments the sweep never trained on.
  await page.waitForFunction(() => !document.querySelector('#sweep-meta-test')?.disabled, null, { timeout: 30000 });
  await page.locator('#sweep-meta-test').click();
  await page.locator('#meta-table tr[data-test="nodes-64"][data-env="CartPole-v1"]').waitFor({ timeout: 120000 });
  await page.locator('#meta-table tr[data-test="untrained"][data-env="Acrobot-v1"]').waitFor({ timeout: 120000 });
  check(!(await page.locator('#meta-table tr[data-test="untrained"][data-env="CartPole-v1"]').count()), 'untrained environments exclude the trained one');
  await page.screenshot({ path: join(artifacts, 'sweep.png'), fullPage: true });
  // Two of its jobs side by side: the compare page lists exactly the fields that differ.
  const sweepJobs = (await (await page.request.get(`${url}/api/v1/sweeps/${sweepId}`)).json()).jobs;
  await page.goto(`${url}#/compare?ids=${sweepJobs[0].id},${sweepJobs[3].id}`);
  await page.locator('#spec-diff tr[data-field]').first().waitFor();
  const differing = await page.locator('#spec-diff tr[data-field]').evaluateAll((rows) => rows.map((r) => r.dataset.field));
  check(differing.join(',') === 'seed,strategy.sigma0', `the spec diff lists seed and strategy.sigma0 (got ${differing})`);
  // Long names that start alike: the legend keeps them whole, the charts' own legends show them
  // from the word where they part.
  const sweepNames = [sweepJobs[0].name, sweepJobs[3].name];
  const wholeNames = await page.locator('.compare-legend .legend-item').evaluateAll((els) => els.map((e) => e.childNodes[1].textContent));
  check(wholeNames.join('|') === sweepNames.join('|'), `the legend shows whole names (${wholeNames})`);
  const seriesLabels = await page.locator('[data-chart="compare-best"] .u-legend .u-series .u-label').evaluateAll((els) => els.slice(1).map((e) => e.textContent));
  check(seriesLabels.length === 2 && seriesLabels.every((l, i) => l.startsWith('…seed=') && sweepNames[i].endsWith(l.slice(1))),
    `alike names are told apart by where they differ (${seriesLabels})`);

  // ---- a sweep from the form, then cancelled and deleted as a whole ------------------------------
  step('a sweep from the form');
  // A clone opens on the job's spec, with the options of its own strategy only (a stored spec
  // holds every option).
  await page.goto(`${url}#/new?from=${jobId}`);
  await page.locator('#job-form[data-ready="true"]').waitFor();
  await page.getByRole('heading', { level: 1, name: 'New job from a copy' }).waitFor();
  const cloned = JSON.parse(await page.locator('#spec-json').inputValue());
  check(cloned.seed === 7 && 'elite_ratio' in cloned.strategy && !('learning_rate' in cloned.strategy) && !('lr_mean' in cloned.strategy),
    `the clone's JSON holds its strategy's options only (${Object.keys(cloned.strategy)})`);
  check(await page.locator('#spec-strategy-elite-ratio').isVisible() && !(await page.locator('#spec-strategy-learning-rate').isVisible()), 'the clone shows CMA-ES options only');
  // Jobs of about 30 s each at the throughput measured here (4 members × 500 CartPole steps a
  // generation), so that one is running while the page acts; all are cancelled.
  await page.getByLabel('Name', { exact: true }).fill('e2e-form-sweep');
  await popsize.fill('4');
  await page.getByLabel('Episodes per lifetime').fill('1');
  await page.getByLabel('Episode mode').selectOption('fixed_horizon');
  await page.waitForFunction(() => document.querySelector('#run-estimate')?.dataset.source === 'measured', null, { timeout: 5000 });
  const sweepGenerations = String(Math.max(20, Math.round(30 * Number(await estimate.getAttribute('data-rate')) / 2000)));
  await page.getByLabel('Generations').fill(sweepGenerations);
  await page.locator('#sweep-seed-from').fill('1');
  await page.locator('#sweep-seed-to').fill('3');
  await page.getByRole('button', { name: 'Add axis' }).click();
  await page.locator('#axis-1-path').fill('strategy.sigma0');
  await page.locator('#axis-1-values').fill('0.1, 0.5');
  const sweepSize = page.locator('#sweep-size');
  await eventually(async () => (await sweepSize.getAttribute('data-jobs')) === '6', 'two axes of 3 and 2 values make 6 jobs');
  check(/^6 jobs \(3 seeds × 2 values of strategy\.sigma0\)/.test(await sweepSize.textContent()), `the job count is the axes' product: ${await sweepSize.textContent()}`);
  // The whole sweep's estimate: six times the one job's (σ0 does not change a job's steps).
  const sweepEstimate = page.locator('#sweep-estimate');
  await eventually(async () => {
    const one = Number(await estimate.getAttribute('data-seconds'));
    const whole = Number(await sweepEstimate.getAttribute('data-seconds'));
    return one > 0 && Math.abs(whole / (6 * one) - 1) < 1e-6;
  }, `the sweep's estimate is 6 × the job's (${await sweepEstimate.textContent()})`);
  check(/^Whole sweep: ≈ .* for 6 jobs/.test(await sweepEstimate.textContent()), `the sweep's estimate in words: ${await sweepEstimate.textContent()}`);
  summary.sweep_estimate = await sweepEstimate.textContent();
  const sweepWarning = page.locator('#sweep-estimate-warning');
  check(!(await sweepWarning.isVisible()), 'a short sweep is no long one');
  await page.screenshot({ path: join(artifacts, 'submit-sweep.png'), fullPage: true });
  // A sweep of long jobs warns as a whole.
  await page.getByLabel('Generations').fill('2000000');
  await sweepWarning.waitFor({ state: 'visible', timeout: 5000 });
  check(/whole sweep .* more than an hour/.test(await sweepWarning.textContent()), `the long sweep is announced: ${await sweepWarning.textContent()}`);
  await page.getByLabel('Generations').fill(sweepGenerations);
  await sweepWarning.waitFor({ state: 'hidden', timeout: 5000 });
  await page.getByRole('button', { name: 'Submit sweep (6 jobs)' }).click();
  await page.waitForURL(/#\/sweeps\/[0-9a-f-]{36}$/);
  formSweepId = page.url().split('/').pop();
  const formSweep = await (await page.request.get(`${url}/api/v1/sweeps/${formSweepId}`)).json();
  check(formSweep.jobs.length === 6, `the sweep has the 6 jobs (${formSweep.jobs.length})`);
  check(JSON.stringify(formSweep.axes) === JSON.stringify({ seed: [1, 2, 3], 'strategy.sigma0': [0.1, 0.5] }), `the sweep's axes are the form's (${JSON.stringify(formSweep.axes)})`);
  check(formSweep.jobs.every((j) => j.spec.generations === Number(sweepGenerations) && j.spec.strategy.popsize === 4), 'each job has the form\'s spec');
  await page.getByRole('heading', { level: 1, name: 'Sweep: e2e-form-sweep' }).waitFor();
  // While a job of it runs, the sweep cannot be deleted: the page says to cancel it first.
  await page.locator('#variant-table .status-running').first().waitFor({ timeout: 30000 });
  await page.getByRole('button', { name: 'Delete sweep' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete sweep' }).click();
  await page.waitForFunction(() => /cancel it first/.test(document.querySelector('#sweep-message')?.textContent || ''), null, { timeout: 5000 })
    .catch(async () => check(false, `a delete of a running sweep says to cancel it first (${await page.locator('#sweep-message').textContent()})`));
  check((await page.request.get(`${url}/api/v1/sweeps/${formSweepId}`)).status() === 200, 'the refused delete left the sweep');
  // Cancel: every job still to run is cancelled (the running one asked to stop).
  await page.getByRole('button', { name: 'Cancel sweep' }).click();
  await page.waitForFunction(() => /^Cancelled \d+ jobs/.test(document.querySelector('#sweep-message')?.textContent || ''), null, { timeout: 5000 });
  const cancelledCount = Number((await page.locator('#sweep-message').textContent()).match(/^Cancelled (\d+)/)[1]);
  check(cancelledCount === 6, `the sweep's six queued or running jobs are cancelled (${cancelledCount})`);
  const sweepStatuses = async () => (await (await page.request.get(`${url}/api/v1/sweeps/${formSweepId}`)).json()).jobs.map((j) => j.status);
  const stopBy = Date.now() + 20000;
  while ((await sweepStatuses()).some((st) => st !== 'cancelled') && Date.now() < stopBy) await page.waitForTimeout(200);
  check((await sweepStatuses()).every((st) => st === 'cancelled'), `every job of the sweep ends cancelled (${await sweepStatuses()})`);
  await page.waitForFunction(() => document.querySelector('#sweep-cancel')?.disabled, null, { timeout: 10000 });
  await page.screenshot({ path: join(artifacts, 'sweep-cancelled.png') });
  // Delete: the sweep and its jobs are gone, and the page goes to the job list.
  await page.getByRole('button', { name: 'Delete sweep' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete sweep' }).click();
  await page.waitForURL(/#\/$/);
  check((await page.request.get(`${url}/api/v1/sweeps/${formSweepId}`)).status() === 404, 'the deleted sweep is gone');
  const gone = await Promise.all(formSweep.jobs.map(async (j) => (await page.request.get(`${url}/api/v1/jobs/${j.id}`)).status()));
  check(gone.every((st) => st === 404), `and its jobs with it (${gone})`);

  // ---- the form's presets are the files in examples/ ---------------------------------------------
  step('presets from examples/');
  const examples = await (await page.request.get(`${url}/api/v1/examples`)).json();
  check(examples.some((e) => e.file === 'cartpole-quick.json'), 'the server lists examples/cartpole-quick.json');
  await page.goto(`${url}#/new`);
  await page.locator('#spec-preset option[value="cartpole-quick.json"]').waitFor({ state: 'attached' });
  check(await page.locator('#spec-preset option[value$=".json"]').count() === examples.length, 'one preset per example file');
  await page.locator('#spec-preset').selectOption('cartpole-quick.json');
  const presetSpec = JSON.parse(await page.locator('#spec-json').inputValue());
  const quick = examples.find((e) => e.file === 'cartpole-quick.json').spec;
  check(presetSpec.name === quick.name && presetSpec.generations === quick.generations &&
    presetSpec.strategy.popsize === quick.strategy.popsize, 'the preset fills the form with the example file');
  // Jobs have run here now: the estimate gives a time at the measured throughput, and it
  // follows the number of generations.
  const estimateFor = async (steps) => {
    await page.waitForFunction((n) => Number(document.querySelector('#run-estimate')?.dataset.steps) === n, steps, { timeout: 5000 })
      .catch(async () => check(false, `the estimate counts ${steps} steps (got ${await page.locator('#run-estimate').getAttribute('data-steps')})`));
    const box = page.locator('#run-estimate');
    return { text: await box.textContent(), seconds: Number(await box.getAttribute('data-seconds')), rate: Number(await box.getAttribute('data-rate')) };
  };
  // 60 generations × 32 members × 4 episodes × 500 CartPole steps, every one run (fixed horizon).
  const presetSteps = quick.generations * quick.strategy.popsize * quick.lifetime.episodes * 500;
  const measured = await estimateFor(presetSteps);
  check(/^Run time ≈ .* steps\/s, from this server's measured throughput/.test(measured.text) && measured.seconds > 0, `the estimate gives a time at the measured throughput: ${measured.text}`);
  await page.getByLabel('Generations').fill(String(quick.generations * 2));
  const doubled = await estimateFor(presetSteps * 2);
  // Each estimate is its steps at the throughput measured when it was made (the sweep's runs may
  // still refine that measurement between the two, so the times are not compared directly).
  for (const [steps, e] of [[presetSteps, measured], [presetSteps * 2, doubled]]) {
    check(e.rate > 0 && Math.abs(e.seconds * e.rate / steps - 1) < 1e-9,
      `the estimate is ${steps} steps at the measured ${e.rate} steps/s (${e.seconds} s)`);
  }
  summary.estimate = await page.locator('#run-estimate').textContent();

  // ---- an import (what `sfnn push` opens) is marked as such, and offers no resume ------------------
  step('an imported job');
  const opened = await page.request.post(`${url}/api/v1/imports`, { data: { spec: quick, name: 'pushed from elsewhere' } });
  check(opened.status() === 201, `an import opens (${opened.status()})`);
  const importId = (await opened.json()).id;
  await page.goto(`${url}#/?q=${encodeURIComponent('pushed from elsewhere')}`);
  const importRow = page.locator(`tr[data-job-id="${importId}"]`);
  await importRow.waitFor();
  check(await importRow.locator('.badge-imported').count() === 1, 'the job list marks the import');
  check(await page.locator('.badge-imported').count() === 1, 'and only the import');
  check((await page.request.post(`${url}/api/v1/jobs/${importId}/cancel`)).ok(), 'the import is cancelled');
  await page.goto(`${url}#/jobs/${importId}`);
  await page.locator('.page-head .badge-imported').waitFor();
  await eventually(async () => (await page.locator('.page-head .badge.status-cancelled').count()) === 1, 'the job page shows the cancelled import');
  check(await page.getByRole('button', { name: 'Resume' }).count() === 0, 'a cancelled import offers no resume (the server holds no checkpoint of it)');

  check(await page.locator('#job-run-time').textContent() !== '0 s', 'an import shows no run time of its upload as the run\'s');

  // ---- a run on the command line, followed live (issue 24, part 5) --------------------------
  step('a CLI run recorded live');
  if (!process.env.SFNN_BIN) throw new Error('SFNN_BIN (the sfnn binary) is not set');
  const cliDir = mkdtempSync(join(tmpdir(), 'sfnn-e2e-cli-'));
  const cliSpec = { name: 'e2e-cli-live', envs: ['CartPole-v1'], strategy: { name: 'snes', popsize: 4 },
    lifetime: { episodes: 1, episode_mode: 'stop_on_done' }, generations: 1000, checkpoint_interval: 100 };
  writeFileSync(join(cliDir, 'spec.json'), JSON.stringify(cliSpec));
  const cli = spawn(process.env.SFNN_BIN, ['run', join(cliDir, 'spec.json'), '--out', join(cliDir, 'run'), '--quiet',
    '--threads', '1', '--server', url], { stdio: ['ignore', 'pipe', 'pipe'] });
  let cliOutput = '';
  cli.stdout.on('data', (d) => { cliOutput += d; });
  cli.stderr.on('data', (d) => { cliOutput += d; });
  const cliExit = new Promise((resolve) => cli.on('exit', resolve));
  await page.goto(`${url}#/?q=e2e-cli-live`);
  const cliRow = page.locator('#job-table tbody tr[data-job-id]').first();
  await cliRow.waitFor({ timeout: 30000 });
  const cliId = await cliRow.getAttribute('data-job-id');
  await page.goto(`${url}#/jobs/${cliId}`);
  await page.locator('.page-head .badge-imported').waitFor();
  const livePoints = async () => Number(await page.locator('[data-chart="fitness"]').getAttribute('data-points'));
  await page.waitForFunction(() => Number(document.querySelector('[data-chart="fitness"]')?.dataset.points) > 0, null, { timeout: 30000 });
  const seenFirst = await livePoints();
  const cliCode = await cliExit;
  check(cliCode === 0, `sfnn run --server succeeds (${cliCode}): ${cliOutput.slice(-500)}`);
  await eventually(async () => (await page.locator('.page-head .badge.status-succeeded').count()) === 1, 'the page shows the CLI run succeeded, live');
  await page.waitForFunction(() => Number(document.querySelector('[data-chart="fitness"]')?.dataset.points) >= 1000, null, { timeout: 10000 })
    .catch(async () => check(false, `the chart grew live to every generation (${await livePoints()} points)`));
  check(seenFirst < 1000, `the page opened while the run was under way (${seenFirst} generations then)`);
  summary.cli_live = { first_points: seenFirst, job: cliId };
  rmSync(cliDir, { recursive: true, force: true });

  step('an unknown job');
  const errorsBefore = pageErrors.length;
  await page.goto(`${url}#/jobs/00000000-0000-4000-8000-000000000000`);
  await page.locator('#job-missing').waitFor();
  check(/No such job/.test(await page.locator('#job-missing').textContent()), 'an unknown id says there is no such job');
  check(await page.locator('#edit-job').count() === 0 && await page.locator('.facts-card').count() === 0, 'and offers nothing to edit');
  check(pageErrors.length === errorsBefore, 'without a page error');

  // ---- the browsable API page, from the live OpenAPI document ----------------------------------
  step('API docs page');
  await page.goto(url);
  await page.getByRole('link', { name: 'API', exact: true }).click();
  await page.waitForURL(/\/api\/docs\/$/);
  const openapi = await (await page.request.get(`${url}/api/v1/openapi.json`)).json();
  // RapiDoc renders each operation into its shadow DOM; the submit operation's path must be there,
  // and as many operations as the document has.
  const operations = Object.values(openapi.paths).reduce((n, p) => n + Object.keys(p).length, 0);
  await page.waitForFunction(() => {
    const root = document.querySelector('rapi-doc')?.shadowRoot;
    return root && root.textContent.includes('/api/v1/jobs/{id}/genomes');
  });
  const rendered = await page.evaluate(() =>
    document.querySelector('rapi-doc').shadowRoot.querySelectorAll('[id^="get-"],[id^="post-"],[id^="put-"],[id^="patch-"],[id^="delete-"]').length);
  check(rendered >= operations, `the API page shows all ${operations} operations (saw ${rendered})`);
  await page.screenshot({ path: join(artifacts, 'api-docs.png') });
  await page.waitForTimeout(300);
} catch (e) {
  failed = e;
  await page.screenshot({ path: join(artifacts, 'failure.png'), fullPage: true }).catch(() => {});
}

// ---- what the browser reported -------------------------------------------------------------
// Each invalid submission shows up as one 422 response and one console line from Chromium.
const allowed = (list, pattern) => {
  let left = expected422;
  return list.filter((entry) => !(pattern.test(entry) && left-- > 0));
};
// The form's live estimate asks the server about the spec as it is typed: while it is invalid
// (as the invalid submissions above make it), that is a 422 too, and says why in the form.
const estimating = (entry) => /\/api\/v1\/jobs\/estimate/.test(entry) && /422/.test(entry);
// The unknown job's page asks for it once: a 404, and Chromium's console line for it.
const UNKNOWN_JOB = '/api/v1/jobs/00000000-0000-4000-8000-000000000000';
const unknownJob = (entry) => entry.includes(UNKNOWN_JOB) && /404/.test(entry);
// The form's sweep is deleted once while a job of it runs: one 409, and Chromium's console line.
const refusedDelete = () => {
  let left = 1;
  return (entry) => Boolean(formSweepId) && entry.includes(`/api/v1/sweeps/${formSweepId}`) && /409/.test(entry) && left-- > 0;
};
const [consoleRefused, responseRefused] = [refusedDelete(), refusedDelete()];
const unexpectedConsole = allowed(consoleErrors.filter((e) => !estimating(e) && !unknownJob(e) && !consoleRefused(e)), /status of 422/);
const unexpectedResponses = allowed(badResponses.filter((e) => !estimating(e) && !unknownJob(e) && !responseRefused(e)), /^POST \S+\/api\/v1\/jobs → 422$/);
summary.console_warnings = consoleWarnings;
summary.seconds = (Date.now() - started) / 1000;
await context.close().catch(() => {});
rmSync(userData, { recursive: true, force: true });

const problems = [
  ...unexpectedConsole.map((e) => `console ${e}`),
  ...pageErrors.map((e) => `page error: ${e}`),
  ...failedRequests.map((e) => `failed request: ${e}`),
  ...unexpectedResponses.map((e) => `error response: ${e}`),
];
writeFileSync(join(artifacts, 'summary.json'), JSON.stringify({ ...summary, problems, error: failed ? String(failed.stack || failed) : null }, null, 2));
if (failed) console.error(failed.stack || String(failed));
for (const p of problems) console.error(p);
if (failed || problems.length) {
  console.error(`FAIL (${summary.seconds.toFixed(1)} s); artifacts in ${artifacts}`);
  process.exit(1);
}
console.log(JSON.stringify(summary, null, 2));
console.log(`PASS (${summary.seconds.toFixed(1)} s)`);
