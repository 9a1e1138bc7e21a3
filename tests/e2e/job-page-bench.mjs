// Benchmark, not a test: how long the job page of a long job takes to render in headless
// Chromium, from navigation to a drawn fitness chart and filled facts. The docs/performance.md's
// section has the figures and the commands that make the job (a 10,000-generation run pushed to a
// server with `sfnn push`).
//
//   node tests/e2e/job-page-bench.mjs http://127.0.0.1:8080 JOB_ID [ROUNDS]
//
// Each round opens a fresh page (the dashboard's scripts from the browser cache after the first)
// and prints the time to: the fitness chart's first points, the chart with every generation (the
// page replays the job's records over its event stream), and the genome table.
import { chromium } from 'playwright-core';

const [url, jobId, rounds = '7'] = process.argv.slice(2);
if (!url || !jobId) {
  console.error('usage: node tests/e2e/job-page-bench.mjs SERVER_URL JOB_ID [ROUNDS]');
  process.exit(2);
}
const job = await (await fetch(`${url}/api/v1/jobs/${jobId}`)).json();
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium' });
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const times = [];
for (let round = 0; round < Number(rounds); round++) {
  const page = await context.newPage();
  const started = Date.now();
  await page.goto(`${url}/#/jobs/${jobId}`);
  const drawn = (n) => page.waitForFunction((m) => Number(document.querySelector('[data-chart="fitness"]')?.dataset.points) >= m, n, { timeout: 30000, polling: 'raf' });
  await drawn(1);
  const first = Date.now() - started;
  await drawn(job.generation);
  const all = Date.now() - started;
  await page.locator('#genome-table tr[data-kind]').first().waitFor({ timeout: 30000 });
  const genomes = Date.now() - started;
  times.push(all);
  console.log(`round ${round + 1}: first points ${first} ms, all ${job.generation} generations drawn ${all} ms, genomes listed ${genomes} ms`);
  await page.close();
}
await browser.close();
const sorted = [...times].sort((a, b) => a - b);
console.log(`all generations drawn: median ${sorted[sorted.length >> 1]} ms, min ${sorted[0]} ms, max ${sorted[sorted.length - 1]} ms over ${times.length} rounds (the first includes a cold cache)`);
