// A genome's lifetime, replayed: the environment drawn on a canvas step by step, the action
// nodes' outputs over time, the sampled network, and the synapse-state norms as a heat map.
// Loaded by the job page only when the user asks for a replay (GET /genomes/{id}/replay).

import uPlot from '../../vendor/uplot/uPlot.esm.js';
import { api } from '../api.js';
import { PALETTE } from '../charts.js';
import { h, replace, fmtNum, fmtInt } from '../util.js';

const SVG = 'http://www.w3.org/2000/svg';
const SPEEDS = [1, 2, 5, 20, 100];
/** Environment steps shown per second at speed 1×. */
const STEPS_PER_SECOND = 30;

/**
 * Fetches the replay of `genomeId` and shows it in `root`. Returns a function that stops the
 * animation and releases the chart; the returned promise rejects with the API's error.
 */
export async function showReplay(root, { genomeId, env, seed, episodes, mode, signal }) {
  const q = new URLSearchParams({ env, seed: String(seed) });
  if (episodes) q.set('episodes', String(episodes));
  if (mode) q.set('episode_mode', mode);
  const replay = await api(`/genomes/${genomeId}/replay?${q}`, { signal });
  return mount(root, replay);
}

/** The lifetime's steps, episodes one after the other, as flat arrays. */
function flatten(replay) {
  const steps = { obs: [], action: [], outputs: [], reward: [], done: [], episode: [], inEpisode: [], sofar: [] };
  replay.trace.episodes.forEach((ep, e) => {
    let sum = 0;
    let ended = false;
    ep.actions.forEach((a, t) => {
      steps.obs.push(ep.obs[t]);
      steps.action.push(a);
      steps.outputs.push(ep.outputs[t]);
      steps.reward.push(ep.rewards[t]);
      steps.done.push(ep.dones[t]);
      steps.episode.push(e);
      steps.inEpisode.push(t);
      // The episode's return counts rewards up to its first `done` (as the server's).
      if (!ended) sum += ep.rewards[t];
      ended ||= ep.dones[t];
      steps.sofar.push(sum);
    });
  });
  return steps;
}

function mount(root, replay) {
  const steps = flatten(replay);
  const total = steps.action.length;
  let current = 0;
  let playing = false;
  let speed = 1;
  let frame = null;
  let lastTime = null;
  let carry = 0;

  const scene = h('canvas', { id: 'replay-scene', class: 'replay-scene', width: 480, height: 300, role: 'img', 'aria-label': `${replay.env} at the current step` });
  const play = h('button', { type: 'button', class: 'btn btn-small btn-primary', id: 'replay-play', text: 'Play' });
  const slider = h('input', { type: 'range', id: 'replay-step', min: 0, max: Math.max(0, total - 1), step: 1, value: '0', 'aria-label': 'Step' });
  const speedSelect = h('select', { id: 'replay-speed', 'aria-label': 'Speed' }, SPEEDS.map((s) => h('option', { value: s, text: `${s}×` })));
  const counter = h('output', { id: 'replay-counter', class: 'mono small', for: 'replay-step' });
  const returns = h('p', { class: 'small muted', id: 'replay-returns' },
    `Episode returns: ${replay.returns.map((r) => fmtNum(r, 5)).join(', ')}`);
  const outputsBox = h('div', { class: 'chart', id: 'replay-outputs' });
  const graph = buildGraph(replay);
  const heat = buildHeatMap(replay, total);

  replace(root,
    h('div', { class: 'replay-grid' },
      h('div', { class: 'replay-pane' },
        h('h3', { text: `${replay.env} · seed ${replay.seed}` }),
        scene,
        h('div', { class: 'replay-controls' }, play, slider, speedSelect),
        counter, returns),
      h('div', { class: 'replay-pane' },
        h('h3', { text: 'Action-node outputs' }),
        h('p', { class: 'small muted', text: `Channel 0 of each output node after every step; the action is read from them (${readoutText(replay.trace.readout)}).` }),
        outputsBox)),
    h('div', { class: 'replay-grid' },
      h('div', { class: 'replay-pane' },
        h('h3', { text: 'Sampled network' }),
        h('p', { class: 'small muted', text: `${replay.nodes.length} nodes, ${replay.trace.wiring.edges.length} synapses drawn fresh for this lifetime; line strength follows the synapse-state norm at the current step.` }),
        graph.element, graph.legend),
      h('div', { class: 'replay-pane' },
        h('h3', { text: 'Synapse-state norm' }),
        h('p', { class: 'small muted', text: `One row per synapse (wiring order), one column every ${fmtInt(replay.synapse_norms.every)} step${replay.synapse_norms.every === 1 ? '' : 's'}: the L2 norm of its ${replay.trace.model.msg_dims} state channels.` }),
        heat.element, heat.legend)));

  const chart = outputsChart(outputsBox, replay, steps, () => current);
  heat.draw(current);

  function show(step) {
    current = Math.max(0, Math.min(total - 1, step));
    slider.value = String(current);
    drawScene(scene, replay.env, steps, current);
    const e = steps.episode[current];
    counter.textContent = `step ${fmtInt(current + 1)} / ${fmtInt(total)} · episode ${e + 1} step ${steps.inEpisode[current] + 1}` +
      ` · action ${fmtNum(steps.action[current], 3)} · reward ${fmtNum(steps.reward[current], 3)}` +
      ` · return so far ${fmtNum(steps.sofar[current], 5)}${steps.done[current] ? ' · done' : ''}`;
    root.dataset.step = String(current);
    chart.redraw();
    heat.draw(current);
    graph.update(current);
  }

  function tick(time) {
    frame = null;
    if (!playing) return;
    if (lastTime !== null) {
      carry += ((time - lastTime) / 1000) * STEPS_PER_SECOND * speed;
      const advance = Math.floor(carry);
      carry -= advance;
      if (advance > 0) show(current + advance);
    }
    lastTime = time;
    if (current >= total - 1) setPlaying(false);
    else frame = requestAnimationFrame(tick);
  }

  function setPlaying(on) {
    playing = on;
    play.textContent = on ? 'Pause' : 'Play';
    root.dataset.playing = String(on);
    if (on) {
      if (current >= total - 1) show(0);
      lastTime = null;
      carry = 0;
      frame ??= requestAnimationFrame(tick);
    } else if (frame !== null) {
      cancelAnimationFrame(frame);
      frame = null;
    }
  }

  play.addEventListener('click', () => setPlaying(!playing));
  slider.addEventListener('input', () => show(Number(slider.value)));
  speedSelect.addEventListener('change', () => {
    speed = Number(speedSelect.value);
  });
  show(0);

  return () => {
    setPlaying(false);
    chart.destroy();
  };
}

function readoutText(readout) {
  return readout.actions !== undefined ? `argmax over ${readout.actions} actions` : `scaled to [${readout.low}, ${readout.high}]`;
}

// ---- the environment ---------------------------------------------------------------------

const INK = '#1d2330';
const MUTED = '#9aa3b2';

function drawScene(canvas, env, steps, t) {
  const ctx = canvas.getContext('2d');
  const { width: w, height: hgt } = canvas;
  ctx.clearRect(0, 0, w, hgt);
  ctx.fillStyle = '#fbfcfe';
  ctx.fillRect(0, 0, w, hgt);
  const obs = steps.obs[t];
  const action = steps.action[t];
  ctx.lineCap = 'round';
  if (env.startsWith('CartPole')) cartPole(ctx, w, hgt, obs, action);
  else if (env.startsWith('Acrobot')) acrobot(ctx, w, hgt, obs, action);
  else if (env.startsWith('MountainCar')) mountainCar(ctx, w, hgt, obs, action, env.includes('Continuous'));
  else if (env.startsWith('Pendulum')) pendulum(ctx, w, hgt, obs, action);
  else bars(ctx, w, hgt, obs);
}

/** An arrow at (x, y) pointing right (dir > 0) or left, `len` long. */
function arrow(ctx, x, y, dir, len, color) {
  if (!dir) return;
  const end = x + Math.sign(dir) * len;
  ctx.strokeStyle = color;
  ctx.fillStyle = color;
  ctx.lineWidth = 3;
  ctx.beginPath();
  ctx.moveTo(x, y);
  ctx.lineTo(end, y);
  ctx.stroke();
  ctx.beginPath();
  ctx.moveTo(end + Math.sign(dir) * 6, y);
  ctx.lineTo(end, y - 6);
  ctx.lineTo(end, y + 6);
  ctx.fill();
}

// Cart position x ∈ [−2.4, 2.4], pole angle θ from upright (obs[0], obs[2]); action 0 pushes
// left, 1 right.
function cartPole(ctx, w, hgt, obs, action) {
  const [x, , theta] = obs;
  const scale = (w - 40) / 4.8;
  const ground = hgt * 0.72;
  const cx = w / 2 + x * scale;
  ctx.strokeStyle = MUTED;
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.moveTo(20, ground);
  ctx.lineTo(w - 20, ground);
  ctx.stroke();
  ctx.fillStyle = PALETTE[0];
  ctx.fillRect(cx - 26, ground - 16, 52, 26);
  const pole = scale * 1.0; // the pole's length is 2 × 0.5 in the environment's units
  ctx.strokeStyle = PALETTE[3];
  ctx.lineWidth = 7;
  ctx.beginPath();
  ctx.moveTo(cx, ground - 10);
  ctx.lineTo(cx + pole * Math.sin(theta), ground - 10 - pole * Math.cos(theta));
  ctx.stroke();
  ctx.fillStyle = INK;
  ctx.beginPath();
  ctx.arc(cx, ground - 10, 4, 0, 2 * Math.PI);
  ctx.fill();
  arrow(ctx, cx, ground + 30, action === 1 ? 1 : -1, 24, PALETTE[1]);
}

// Two links hanging from a pivot: θ1 from (cos, sin) obs[0..2], θ2 relative, obs[2..4]. The
// goal: the free end above the line one link length over the pivot.
function acrobot(ctx, w, hgt, obs, action) {
  const t1 = Math.atan2(obs[1], obs[0]);
  const t2 = Math.atan2(obs[3], obs[2]);
  const link = hgt / 4.6;
  const px = w / 2;
  const py = hgt / 2;
  ctx.strokeStyle = MUTED;
  ctx.lineWidth = 1;
  ctx.setLineDash([5, 5]);
  ctx.beginPath();
  ctx.moveTo(px - 2.2 * link, py - link);
  ctx.lineTo(px + 2.2 * link, py - link);
  ctx.stroke();
  ctx.setLineDash([]);
  const x1 = px + link * Math.sin(t1);
  const y1 = py + link * Math.cos(t1);
  const x2 = x1 + link * Math.sin(t1 + t2);
  const y2 = y1 + link * Math.cos(t1 + t2);
  ctx.lineWidth = 8;
  ctx.strokeStyle = PALETTE[0];
  ctx.beginPath();
  ctx.moveTo(px, py);
  ctx.lineTo(x1, y1);
  ctx.stroke();
  ctx.strokeStyle = PALETTE[2];
  ctx.beginPath();
  ctx.moveTo(x1, y1);
  ctx.lineTo(x2, y2);
  ctx.stroke();
  ctx.fillStyle = INK;
  for (const [x, y] of [[px, py], [x1, y1]]) {
    ctx.beginPath();
    ctx.arc(x, y, 5, 0, 2 * Math.PI);
    ctx.fill();
  }
  // Torque −1, 0, +1 on the joint between the links.
  arrow(ctx, x1, y1 - 18, action - 1, 18, PALETTE[1]);
}

// The car on the hill y = sin(3x)·0.45 + 0.55, x = obs[0] ∈ [−1.2, 0.6]; the flag at the goal.
function mountainCar(ctx, w, hgt, obs, action, continuous) {
  const lo = -1.2;
  const hi = 0.6;
  const sx = (x) => 20 + ((x - lo) / (hi - lo)) * (w - 40);
  const sy = (y) => hgt - 20 - y * (hgt - 60);
  const height = (x) => Math.sin(3 * x) * 0.45 + 0.55;
  ctx.strokeStyle = MUTED;
  ctx.lineWidth = 2;
  ctx.beginPath();
  for (let i = 0; i <= 100; i++) {
    const x = lo + ((hi - lo) * i) / 100;
    if (i === 0) ctx.moveTo(sx(x), sy(height(x)));
    else ctx.lineTo(sx(x), sy(height(x)));
  }
  ctx.stroke();
  const goal = continuous ? 0.45 : 0.5;
  ctx.strokeStyle = INK;
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.moveTo(sx(goal), sy(height(goal)));
  ctx.lineTo(sx(goal), sy(height(goal)) - 36);
  ctx.stroke();
  ctx.fillStyle = PALETTE[3];
  ctx.fillRect(sx(goal), sy(height(goal)) - 36, 18, 11);
  const x = obs[0];
  const slope = Math.atan(Math.cos(3 * x) * 3 * 0.45 * (hgt - 60) / ((w - 40) / (hi - lo)));
  ctx.save();
  ctx.translate(sx(x), sy(height(x)));
  ctx.rotate(-slope);
  ctx.fillStyle = PALETTE[0];
  ctx.fillRect(-18, -16, 36, 12);
  ctx.fillStyle = INK;
  for (const wx of [-10, 10]) {
    ctx.beginPath();
    ctx.arc(wx, -4, 4, 0, 2 * Math.PI);
    ctx.fill();
  }
  ctx.restore();
  // Discrete: 0 left, 1 nothing, 2 right; continuous: the force.
  const push = continuous ? action : action - 1;
  arrow(ctx, sx(x), sy(height(x)) - 34, push, continuous ? 24 * Math.min(1, Math.abs(push)) + 4 : 22, PALETTE[1]);
}

// A pendulum from (cos θ, sin θ) obs[0..2], θ = 0 upright; the torque as an arc arrow's size.
function pendulum(ctx, w, hgt, obs, action) {
  const theta = Math.atan2(obs[1], obs[0]);
  const px = w / 2;
  const py = hgt / 2;
  const rod = hgt * 0.36;
  ctx.strokeStyle = PALETTE[1];
  ctx.lineWidth = 10;
  ctx.beginPath();
  ctx.moveTo(px, py);
  ctx.lineTo(px - rod * Math.sin(theta), py - rod * Math.cos(theta));
  ctx.stroke();
  ctx.fillStyle = INK;
  ctx.beginPath();
  ctx.arc(px, py, 5, 0, 2 * Math.PI);
  ctx.fill();
  arrow(ctx, px, py + rod + 14, action, 12 * Math.min(2, Math.abs(action)) + 4, PALETTE[0]);
}

/** Any other environment: the observation as bars. */
function bars(ctx, w, hgt, obs) {
  const n = obs.length;
  const max = Math.max(1, ...obs.map(Math.abs));
  const bw = (w - 40) / n;
  ctx.strokeStyle = MUTED;
  ctx.beginPath();
  ctx.moveTo(20, hgt / 2);
  ctx.lineTo(w - 20, hgt / 2);
  ctx.stroke();
  obs.forEach((v, i) => {
    ctx.fillStyle = PALETTE[i % PALETTE.length];
    const bh = (v / max) * (hgt / 2 - 20);
    ctx.fillRect(20 + i * bw + 4, hgt / 2 - Math.max(bh, 0), bw - 8, Math.abs(bh));
  });
}

// ---- action-node outputs -----------------------------------------------------------------

function outputsChart(container, replay, steps, currentStep) {
  const outputs = replay.nodes.filter((n) => n.role === 'output').length;
  // Steps are counted from 1 on the axis, as in the step counter.
  const x = steps.outputs.map((_, i) => i + 1);
  const data = [x, ...Array.from({ length: outputs }, (_, k) => steps.outputs.map((o) => o[k]))];
  const axis = { stroke: '#5b6472', grid: { stroke: '#e7eaf0', width: 1 }, ticks: { stroke: '#d3d8e0', width: 1 }, font: '12px system-ui, sans-serif' };
  // Episode starts as light vertical lines, the current step as a dark one.
  const starts = steps.inEpisode.flatMap((t, i) => (t === 0 && i > 0 ? [i + 1] : []));
  const vline = (u, at, color, width) => {
    const left = u.valToPos(at, 'x', true);
    const ctx = u.ctx;
    ctx.save();
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.beginPath();
    ctx.moveTo(left, u.bbox.top);
    ctx.lineTo(left, u.bbox.top + u.bbox.height);
    ctx.stroke();
    ctx.restore();
  };
  const opts = (width) => ({
    width,
    height: 260,
    cursor: { drag: { x: true, y: false } },
    legend: { live: true },
    scales: { x: { time: false } },
    axes: [{ ...axis, label: 'step', labelSize: 20 }, { ...axis, label: 'output', labelSize: 20, size: 50 }],
    series: [
      { label: 'step', value: (u, v) => (v === null || v === undefined ? '—' : String(v)) },
      ...Array.from({ length: outputs }, (_, k) => ({
        label: `output ${k}`, stroke: PALETTE[k % PALETTE.length], width: 1.5, points: { show: false },
        value: (u, v) => (v === null || v === undefined ? '—' : fmtNum(v, 4)),
      })),
    ],
    hooks: {
      draw: [(u) => {
        for (const s of starts) vline(u, s, '#d3d8e0', 1);
        vline(u, currentStep() + 1, '#1d2330', 1.5);
      }],
    },
  });
  const width = () => Math.max(280, Math.floor(container.clientWidth || 480));
  const plot = new uPlot(opts(width()), data, container);
  const observer = new ResizeObserver(() => plot.setSize({ width: width(), height: 260 }));
  observer.observe(container);
  return {
    redraw() {
      plot.redraw(false, false);
      // Off the chart, the legend shows the outputs at the current step.
      if (plot.cursor.idx === null || plot.cursor.idx === undefined) plot.setLegend({ idx: currentStep() }, false);
    },
    destroy() {
      observer.disconnect();
      plot.destroy();
    },
  };
}

// ---- the network -------------------------------------------------------------------------

/** Node positions: inputs in a column on the left, outputs on the right, hidden nodes on an
 * ellipse between them (so hidden→hidden synapses are chords, not overlapping lines). */
function layout(nodes, w, hgt) {
  const byRole = { input: [], hidden: [], output: [] };
  nodes.forEach((n, i) => byRole[n.role].push(i));
  const pos = new Array(nodes.length);
  const column = (list, x) => list.forEach((node, k) => {
    pos[node] = [x, ((k + 1) * hgt) / (list.length + 1)];
  });
  column(byRole.input, 30);
  column(byRole.output, w - 30);
  const n = byRole.hidden.length;
  byRole.hidden.forEach((node, k) => {
    const a = (2 * Math.PI * k) / Math.max(1, n) - Math.PI / 2;
    pos[node] = [w / 2 + (w / 2 - 110) * Math.cos(a), hgt / 2 + (hgt / 2 - 24) * Math.sin(a)];
  });
  return pos;
}

function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

function buildGraph(replay) {
  const w = 560;
  const hgt = 380;
  const pos = layout(replay.nodes, w, hgt);
  const types = new Set(replay.nodes.map((n) => n.type));
  const color = (type) => PALETTE[type % PALETTE.length];
  const root = svg('svg', { id: 'replay-graph', class: 'replay-graph', viewBox: `0 0 ${w} ${hgt}`, role: 'img', 'aria-label': `The sampled network: ${replay.nodes.length} nodes, ${replay.trace.wiring.edges.length} synapses` });
  const edges = svg('g', { class: 'net-edges' });
  const lines = replay.trace.wiring.edges.map(([pre, post]) => {
    const [x1, y1] = pos[pre];
    const [x2, y2] = pos[post];
    const line = svg('line', { x1, y1, x2, y2, stroke: color(replay.nodes[pre].type), 'stroke-opacity': 0.35, 'stroke-width': 1, class: 'net-edge' });
    edges.append(line);
    return line;
  });
  const nodeGroup = svg('g', { class: 'net-nodes' });
  const shape = { input: 'rect', hidden: 'circle', output: 'rect' };
  replay.nodes.forEach((node, i) => {
    const [x, y] = pos[i];
    const attrs = { fill: color(node.type), stroke: '#fff', 'stroke-width': 1.5, class: `net-node net-${node.role}`, 'data-role': node.role, 'data-type': node.type };
    const el = shape[node.role] === 'circle'
      ? svg('circle', { cx: x, cy: y, r: 7, ...attrs })
      : svg('rect', { x: x - 8, y: y - 8, width: 16, height: 16, rx: node.role === 'output' ? 8 : 2, ...attrs });
    const title = svg('title');
    title.textContent = `node ${i}: ${node.role}, type ${node.type}`;
    el.append(title);
    nodeGroup.append(el);
  });
  root.append(edges, nodeGroup);
  const legend = h('p', { class: 'small replay-legend' },
    h('span', { class: 'muted', text: 'Inputs left (squares), hidden around the ring, outputs right (rounded). Type: ' }),
    [...types].sort((a, b) => a - b).map((t) => h('span', { class: `legend-item type-${t % PALETTE.length}` }, h('span', { class: `swatch swatch-${t % PALETTE.length}` }), `type ${t}`)));

  // The synapses' strength at a step: opacity and width from the norm column in effect.
  const norms = replay.synapse_norms;
  const max = Math.max(1e-9, normMax(norms));
  let shownColumn = -1;
  function update(step) {
    const column = Math.min(norms.values.length - 1, Math.floor(step / norms.every));
    if (column === shownColumn || column < 0) return;
    shownColumn = column;
    norms.values[column].forEach((v, e) => {
      const s = v / max;
      lines[e].setAttribute('stroke-opacity', (0.08 + 0.8 * s).toFixed(3));
      lines[e].setAttribute('stroke-width', (0.5 + 2.5 * s).toFixed(2));
    });
  }
  return { element: root, legend, update };
}

// ---- the synapse-norm heat map -----------------------------------------------------------

// A perceptually ordered scale (viridis, five stops), interpolated.
const STOPS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

function normMax(norms) {
  let max = 0;
  for (const column of norms.values) for (const v of column) if (v > max) max = v;
  return max;
}

function colour(s) {
  const x = Math.max(0, Math.min(1, s)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  return STOPS[i].map((c, k) => Math.round(c + (STOPS[i + 1][k] - c) * f));
}

function buildHeatMap(replay, total) {
  const norms = replay.synapse_norms;
  const columns = norms.values.length;
  const rows = replay.trace.wiring.edges.length;
  const max = normMax(norms);
  // The map at one pixel per value, scaled onto the visible canvas.
  const source = document.createElement('canvas');
  source.width = Math.max(1, columns);
  source.height = Math.max(1, rows);
  if (columns > 0 && rows > 0) {
    const image = source.getContext('2d').createImageData(columns, rows);
    norms.values.forEach((column, c) => column.forEach((v, r) => {
      const [red, green, blue] = colour(max > 0 ? v / max : 0);
      const at = (r * columns + c) * 4;
      image.data[at] = red;
      image.data[at + 1] = green;
      image.data[at + 2] = blue;
      image.data[at + 3] = 255;
    }));
    source.getContext('2d').putImageData(image, 0, 0);
  }
  const canvas = h('canvas', { id: 'replay-heatmap', class: 'replay-heatmap', width: 560, height: Math.max(120, Math.min(360, rows)), role: 'img', 'aria-label': `Synapse-state norms: ${rows} synapses by ${columns} time columns` });
  const scale = h('canvas', { class: 'replay-scale', width: 200, height: 10, 'aria-hidden': 'true' });
  const sctx = scale.getContext('2d');
  for (let x = 0; x < 200; x++) {
    sctx.fillStyle = `rgb(${colour(x / 199).join(',')})`;
    sctx.fillRect(x, 0, 1, 10);
  }
  const legend = h('div', { class: 'replay-legend small' }, h('span', { class: 'mono', text: '0' }), scale, h('span', { class: 'mono', text: fmtNum(max, 3) }),
    h('span', { class: 'muted', text: ` norm · time → (${fmtInt(total)} steps)` }));
  function draw(step) {
    const ctx = canvas.getContext('2d');
    ctx.imageSmoothingEnabled = false;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
    if (columns > 0) {
      // The column in effect at this step.
      const x = ((Math.min(columns - 1, Math.floor(step / norms.every)) + 0.5) / columns) * canvas.width;
      ctx.strokeStyle = '#ffffff';
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.moveTo(x, 0);
      ctx.lineTo(x, canvas.height);
      ctx.stroke();
    }
  }
  return { element: canvas, legend, draw };
}
