// SFNN Lab dashboard: hash routes to views. Each view renders into <main> and returns a
// function that releases what it holds (event streams, charts, timers).

import { jobsView } from './views/jobs.js';
import { submitView } from './views/submit.js';
import { jobView } from './views/job.js';
import { compareView } from './views/compare.js';
import { sweepsView, sweepView } from './views/sweep.js';
import { h, replace } from './util.js';

const main = document.getElementById('main');
const conn = document.getElementById('conn');
let dispose = null;
let currentPath = null;

const CONN_TEXT = { live: 'live', reconnecting: 'reconnecting…', closed: 'disconnected' };

/** Views call this with their event stream's state. */
export function setConnection(state) {
  conn.textContent = state ? CONN_TEXT[state] || state : '';
  conn.className = `conn${state ? ` conn-${state}` : ''}`;
}

function route() {
  const hash = location.hash || '#/';
  const [path] = hash.slice(1).split('?');
  let view;
  let nav;
  let match;
  if (path === '/' || path === '') {
    view = jobsView;
    nav = 'jobs';
  } else if (path === '/new') {
    view = submitView;
    nav = 'new';
  } else if ((match = path.match(/^\/jobs\/([0-9a-fA-F-]{36})$/))) {
    const id = match[1];
    view = (root, ctx) => jobView(root, id, ctx);
    nav = 'jobs';
  } else if (path === '/sweeps') {
    view = sweepsView;
    nav = 'sweeps';
  } else if ((match = path.match(/^\/sweeps\/([0-9a-fA-F-]{36})$/))) {
    const id = match[1];
    view = (root, ctx) => sweepView(root, id, ctx);
    nav = 'sweeps';
  } else if (path === '/compare') {
    view = compareView;
    nav = 'compare';
  } else {
    view = (root) => {
      replace(root, h('section', { class: 'card empty' },
        h('h1', { text: 'Not found' }),
        h('p', {}, 'No page at ', h('code', { text: hash }), '. ', h('a', { href: '#/', text: 'Back to the jobs' }))));
      return null;
    };
    nav = null;
  }
  // A view that only changes its query (filters) handles that itself when it can.
  if (path === currentPath && dispose?.onQuery) {
    dispose.onQuery();
    return;
  }
  dispose?.();
  dispose = null;
  currentPath = path;
  // A dialog belongs to the page that opened it: Save in an edit dialog left open over another
  // page would change the wrong job.
  for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close();
  setConnection(null);
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  main.replaceChildren();
  dispose = view(main, { setConnection }) || null;
  window.scrollTo(0, 0);
}

window.addEventListener('hashchange', route);
route();
