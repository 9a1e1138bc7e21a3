// The job spec as the server declares it: its OpenAPI document (GET /api/v1/openapi.json) gives
// every field's default, choices and bounds, read from the same declarations the server
// validates with. The submit form takes them from here and restates none.

import { api } from './api.js';

let loading = null;

/** The server's spec schema, fetched once per page load. */
export function specSchema() {
  loading ??= api('/openapi.json').then((doc) => new SpecSchema(doc)).catch((e) => {
    loading = null;
    throw e;
  });
  return loading;
}

export class SpecSchema {
  constructor(doc) {
    this.doc = doc;
    this.root = this.resolve({ $ref: '#/components/schemas/JobSpec' });
  }

  /** `schema` with its `$ref` followed (to the end of the chain). */
  resolve(schema) {
    let s = schema;
    for (let hops = 0; s && s.$ref && hops < 16; hops++) {
      s = s.$ref.replace(/^#\//, '').split('/').reduce((o, k) => o?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], this.doc);
    }
    return s || {};
  }

  /** The property at a dotted path (`strategy.popsize`) as written (`default`, bounds) and resolved. */
  property(path) {
    let parent = this.root;
    let written = null;
    for (const key of path.split('.')) {
      written = parent.properties?.[key];
      if (!written) return null;
      parent = this.resolve(written);
    }
    return { written, resolved: parent };
  }

  /** Every field's default, nested as a spec: what the server fills in for a field left out. */
  defaults(schema = this.root) {
    const out = {};
    for (const [key, written] of Object.entries(schema.properties || {})) {
      const resolved = this.resolve(written);
      if ('default' in written) out[key] = structuredClone(written.default);
      else if (resolved.properties) out[key] = this.defaults(resolved);
      else if ('default' in resolved) out[key] = structuredClone(resolved.default);
    }
    return out;
  }

  /** The allowed values of an enumerated field, or null. */
  choices(path) {
    const p = this.property(path);
    return p?.resolved.enum ?? p?.written.enum ?? null;
  }

  /** `{min, max}` of a numeric field (either may be undefined). */
  bounds(path) {
    const p = this.property(path);
    if (!p) return {};
    const pick = (k) => p.written[k] ?? p.resolved[k];
    return { min: pick('minimum') ?? pick('exclusiveMinimum'), max: pick('maximum') };
  }
}
