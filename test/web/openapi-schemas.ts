/**
 * The OpenAPI document's schemas as JSON Schema validators, strict about
 * undocumented fields, so tests can check that documented examples and real
 * answers match the document.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import { OPENAPI_PATH } from '../../tools/api-docs/generate.js';

type Schema = Record<string, unknown>;
const ROOT_ID = 'https://stream-ml-service.invalid/openapi.json';

/** OpenAPI 3.0 → JSON Schema: `nullable` becomes a null type; objects refuse fields they do not name. */
function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (node === null || typeof node !== 'object') return node;
  const out: Schema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'example' || key === 'nullable') continue;
    out[key] = key === 'properties' ? Object.fromEntries(Object.entries(value as Schema).map(([k, v]) => [k, toJsonSchema(v)])) : toJsonSchema(value);
  }
  const src = node as Schema;
  if (src.nullable === true && typeof src.type === 'string') out.type = [src.type, 'null'];
  if (src.properties && src.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

/**
 * `allOf` of object schemas → one object schema with all their properties, so
 * that refusing undocumented fields still works on composed schemas.
 */
function flattenAllOf(node: unknown, schemas: Schema): unknown {
  if (Array.isArray(node)) return node.map((n) => flattenAllOf(n, schemas));
  if (node === null || typeof node !== 'object') return node;
  const src = Object.fromEntries(Object.entries(node).map(([k, v]) => [k, flattenAllOf(v, schemas)])) as Schema;
  const parts = src.allOf as Schema[] | undefined;
  const resolve = (p: Schema): Schema => (typeof p.$ref === 'string' ? (flattenAllOf(schemas[p.$ref.split('/').pop() as string], schemas) as Schema) : p);
  if (!parts || parts.length < 2 || !parts.every((p) => resolve(p).type === 'object')) return src;
  const { allOf: _, ...rest } = src;
  const merged = parts.map(resolve);
  return {
    ...rest,
    type: 'object',
    required: merged.flatMap((p) => (p.required as string[] | undefined) ?? []),
    properties: Object.assign({}, ...merged.map((p) => p.properties as Schema)),
  };
}

export interface ApiSchemas {
  doc: Schema;
  /** Validator for `#/components/schemas/<name>`. */
  component(name: string): ValidateFunction;
  /** Validator for an inline schema of the document (its $refs resolve against the components). */
  inline(schema: unknown): ValidateFunction;
}

export function loadApiSchemas(): ApiSchemas {
  const doc = JSON.parse(readFileSync(OPENAPI_PATH, 'utf8')) as Schema;
  const schemas = (doc.components as Schema).schemas as Schema;
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema({ $id: ROOT_ID, components: { schemas: toJsonSchema(flattenAllOf(schemas, schemas)) } });
  let n = 0;
  return {
    doc,
    component(name) {
      const fn = ajv.getSchema(`${ROOT_ID}#/components/schemas/${name}`);
      if (!fn) throw new Error(`no schema ${name}`);
      return fn;
    },
    inline(schema) {
      // Inline schemas refer to `#/components/...`: give them the root's base.
      const rebased = JSON.parse(JSON.stringify(toJsonSchema(schema)).replaceAll('"#/components/', `"${ROOT_ID}#/components/`)) as Schema;
      return ajv.compile({ ...rebased, $id: `${ROOT_ID}/inline/${n++}` });
    },
  };
}

/** Asserts-friendly form: the value, or the validator's errors. */
export function check(validate: ValidateFunction, value: unknown): unknown {
  return validate(value) ? 'valid' : validate.errors;
}
