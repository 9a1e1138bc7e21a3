// The REST API under /api/v1: JSON in, JSON out, errors as ApiError.

export const API = '/api/v1';

export class ApiError extends Error {
  /** `errors`: every problem the server found, `[{field, message}]` (a spec's 422 lists them
   * all); without such a list, the one `field` and `message`. */
  constructor(status, code, message, field, errors) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field;
    this.errors = Array.isArray(errors) && errors.length ? errors : [{ field: field || '', message }];
  }
}

/** `path` is relative to /api/v1. Resolves to the parsed JSON body (null for 204). */
export async function api(path, { method = 'GET', body, signal } = {}) {
  const init = { method, signal, headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(API + path, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', `cannot reach the server (${e.message})`);
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const err = data?.error || {};
    throw new ApiError(response.status, err.code || 'http', err.message || `HTTP ${response.status}`, err.field, err.errors);
  }
  return data;
}

export const jobUrl = (id) => `#/jobs/${encodeURIComponent(id)}`;
export const downloadUrl = (genomeId, format) =>
  `${API}/genomes/${encodeURIComponent(genomeId)}/download?format=${format}`;

/**
 * An EventSource that reports connection state and survives server restarts (the browser
 * reconnects by itself; `Last-Event-ID` resumes job streams). Returns { close }.
 */
export function stream(path, handlers, onState) {
  const source = new EventSource(API + path);
  for (const [event, handler] of Object.entries(handlers)) {
    source.addEventListener(event, (e) => {
      let data;
      try {
        data = JSON.parse(e.data);
      } catch {
        return;
      }
      handler(data, e);
    });
  }
  source.onopen = () => onState?.('live');
  source.onerror = () => onState?.(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
  return {
    close() {
      source.close();
    },
  };
}
