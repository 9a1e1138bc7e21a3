// The job spec as the server declares it: its OpenAPI document (GET /api/v1/openapi.json) gives
// every field's default, choices and bounds, read from the same declarations the server
// validates with. The submit form takes them from here and restates none.

import { api } from './api.js';

let loading = null;

// Top-level fields a sweep may not vary: the sweep's own (src/evolution/sweep.rs).
const NOT_SWEPT = new Set(['name', 'tags', 'priority']);

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

  /** The types a schema admits (`integer`, `number`, `boolean`, `string`, `null`, `object`,
   * `array`, and `enum` for a list of choices), through `$ref`, `oneOf`, `anyOf` and `allOf`. */
  types(schema) {
    const s = this.resolve(schema);
    const out = new Set();
    if (s.enum) out.add('enum');
    for (const t of [].concat(s.type ?? [])) out.add(t);
    for (const part of [...(s.oneOf ?? []), ...(s.anyOf ?? []), ...(s.allOf ?? [])]) {
      for (const t of this.types(part)) out.add(t);
    }
    if (s.properties) out.add('object');
    return out;
  }

  /** What a field's value is: `{type, nullable}` with type one of `integer`, `number`,
   * `boolean`, `enum`, `string`, or null for a path the schema does not know (or an object). */
  kind(path) {
    const p = this.property(path);
    if (!p) return null;
    const types = new Set([...this.types(p.written), ...this.types(p.resolved)]);
    const nullable = types.has('null');
    for (const type of ['enum', 'boolean', 'integer', 'number', 'string']) {
      if (types.has(type)) return { type, nullable };
    }
    return null;
  }

  /** Every field a sweep can vary usefully: numbers, choices and switches, by dotted path. */
  sweepable(schema = this.root, prefix = '') {
    const out = [];
    for (const [key, written] of Object.entries(schema.properties || {})) {
      const path = prefix + key;
      if (!prefix && NOT_SWEPT.has(key)) continue;
      const resolved = this.resolve(written);
      if (resolved.properties) {
        out.push(...this.sweepable(resolved, `${path}.`));
        continue;
      }
      const kind = this.kind(path);
      if (kind && kind.type !== 'string') out.push({ path, ...kind });
    }
    return out;
  }

  /** The strategy's options besides its name: `{key, path, strategies}`, where `strategies`
   * lists the strategies that use the option (the server's `x-strategies`), or is null for one
   * every strategy uses (popsize). */
  strategyOptions() {
    const section = this.property('strategy')?.resolved;
    return Object.entries(section?.properties || {}).filter(([key]) => key !== 'name').map(([key, written]) => ({
      key,
      path: `strategy.${key}`,
      description: written.description ?? this.resolve(written).description ?? '',
      strategies: written['x-strategies'] ?? null,
    }));
  }

  /** How large a sweep may be: `{jobs, axes, values}` (POST /sweeps refuses more). */
  sweepLimits() {
    const request = this.resolve({ $ref: '#/components/schemas/SweepRequest' });
    const axes = this.resolve(request.properties?.axes ?? {});
    return {
      jobs: request['x-max-jobs'],
      axes: axes.maxProperties,
      values: this.resolve(axes.additionalProperties ?? {}).maxItems,
    };
  }

  /** `{min, max}` of a numeric field (either may be undefined). */
  bounds(path) {
    const p = this.property(path);
    if (!p) return {};
    const pick = (k) => p.written[k] ?? p.resolved[k];
    return { min: pick('minimum') ?? pick('exclusiveMinimum'), max: pick('maximum') };
  }
}
