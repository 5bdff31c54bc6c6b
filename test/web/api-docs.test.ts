// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- postman-collection ships its types as an ambient module its package.json does not name
/// <reference path="../../node_modules/postman-collection/types/index.d.ts" />
/**
 * The OpenAPI document and the Postman collection: valid in their formats,
 * generated from one source (no drift), and naming exactly the server's
 * routes.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Collection, ItemGroup, type Item } from 'postman-collection';
import { ROUTES } from '../../src/api/routes.js';
import { OPENAPI_PATH, POSTMAN_PATH, renderDocs } from '../../tools/api-docs/generate.js';
import { POSTMAN_SCHEMA, postmanPath } from '../../tools/api-docs/postman.js';
import { check, loadApiSchemas } from './openapi-schemas.js';

type Obj = Record<string, unknown>;
const openapi = JSON.parse(readFileSync(OPENAPI_PATH, 'utf8')) as Obj;
const postman = JSON.parse(readFileSync(POSTMAN_PATH, 'utf8')) as Obj;
const HTTP_METHODS = ['get', 'post', 'put', 'patch', 'delete', 'options', 'head'];

/** One spelling for every parametrised form: `{id}`, `:id` and a trailing `*` all become `{}`. */
function normalise(method: string, path: string): string {
  const p = path
    .replace(/\/\*$/, '/{}')
    .replace(/\{[^}]+\}/g, '{}')
    .replace(/(^|\/):[^/]+/g, '$1{}');
  return `${method.toUpperCase()} ${p === '' ? '/' : p}`;
}

const routeKeys = ROUTES.map((r) => normalise(r.method, r.path)).sort();

function openapiKeys(doc: Obj): string[] {
  const keys: string[] = [];
  for (const [path, item] of Object.entries(doc.paths as Obj)) {
    for (const method of Object.keys(item as Obj)) if (HTTP_METHODS.includes(method)) keys.push(normalise(method, path));
  }
  return keys.sort();
}

/** Every request in the collection, folders walked depth first. */
function postmanItems(group: ItemGroup): Item[] {
  const out: Item[] = [];
  for (const entry of group.items.all() as (Item | ItemGroup)[]) {
    if (ItemGroup.isItemGroup(entry)) out.push(...postmanItems(entry as ItemGroup));
    else out.push(entry as Item);
  }
  return out;
}

describe('OpenAPI document', () => {
  it('is a valid OpenAPI 3.x document with every $ref resolving', async () => {
    expect(openapi.openapi).toMatch(/^3\.[01]\.\d+$/);
    // validate() checks against the official schema and dereferences every $ref.
    const api = (await SwaggerParser.validate(structuredClone(openapi) as never)) as unknown as Obj;
    expect(Object.keys(api.paths as Obj).length).toBeGreaterThan(0);
  });

  it('names exactly the routes in ROUTES', () => {
    expect(openapiKeys(openapi)).toEqual(routeKeys);
  });

  it('defines the shared schemas and gives every JSON answer an example', () => {
    const schemas = (openapi.components as Obj).schemas as Obj;
    for (const name of ['CameraStatus', 'StreamEvent', 'PredictResponse', 'Error']) expect(schemas, name).toHaveProperty(name);
    const missing: string[] = [];
    for (const [path, item] of Object.entries(openapi.paths as Obj)) {
      for (const [method, op] of Object.entries(item as Obj)) {
        for (const [code, res] of Object.entries((op as Obj).responses as Obj)) {
          const media = ((res as Obj).content as Obj | undefined)?.['application/json'] as Obj | undefined;
          if (media && media.example === undefined && media.examples === undefined) missing.push(`${method} ${path} ${code}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('has examples that match their schemas, with no undocumented fields', () => {
    const api = loadApiSchemas();
    const results: Record<string, unknown> = {};
    for (const [path, item] of Object.entries(openapi.paths as Obj)) {
      for (const [method, op] of Object.entries(item as Obj)) {
        const bodies = Object.entries((op as Obj).responses as Obj).map(([code, res]) => [code, (res as Obj).content] as const);
        const request = ((op as Obj).requestBody as Obj | undefined)?.content;
        if (request) bodies.push(['request', request]);
        for (const [code, content] of bodies) {
          const media = (content as Obj | undefined)?.['application/json'] as Obj | undefined;
          if (!media?.schema) continue;
          const examples = media.example !== undefined ? [media.example] : Object.values((media.examples as Obj | undefined) ?? {}).map((e) => (e as Obj).value);
          examples.forEach((example, i) => (results[`${method} ${path} ${code} #${i}`] = check(api.inline(media.schema), example)));
        }
      }
    }
    expect(Object.keys(results).length).toBeGreaterThan(15);
    for (const [where, result] of Object.entries(results)) expect({ where, result }).toEqual({ where, result: 'valid' });
    // The strictness is real: an undocumented field is refused.
    expect(check(api.component('Prediction'), { label: 'x', score: 0.5, extra: 1 })).not.toBe('valid');
    expect(check(api.component('CameraStatus'), { id: 'x' })).not.toBe('valid');
  });

  it('declares the security schemes, and every protected route its scheme, 401 and 403; public routes none', () => {
    const schemes = (openapi.components as Obj).securitySchemes as Obj;
    expect(schemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(schemes.streamToken).toMatchObject({ type: 'apiKey', in: 'query', name: 'token' });
    for (const route of ROUTES) {
      const path = route.path.endsWith('/*') ? `${route.path.slice(0, -1)}{file}` : route.path;
      const op = ((openapi.paths as Obj)[path] as Obj)[route.method.toLowerCase()] as Obj;
      const codes = Object.keys(op.responses as Obj);
      if (route.access === 'public') {
        expect(op.security, route.id).toEqual([]);
        expect(codes, route.id).not.toContain('401');
      } else {
        expect(op.security, route.id).toContainEqual({ apiKey: [] });
        expect(codes, route.id).toEqual(expect.arrayContaining(['401', '403', '429']));
      }
      expect(op.operationId).toBe(route.id);
    }
    const stream = ((openapi.paths as Obj)['/stream'] as Obj).get as Obj;
    expect(stream.security).toEqual([{ apiKey: [] }, { streamToken: [] }]);
  });

  it('documents /predict as a multipart upload of field "file"', () => {
    const predict = ((openapi.paths as Obj)['/predict'] as Obj).post as Obj;
    const schema = ((((predict.requestBody as Obj).content as Obj)['multipart/form-data'] as Obj).schema as Obj);
    expect(schema.required).toEqual(['file']);
    expect((schema.properties as Obj).file).toMatchObject({ type: 'string', format: 'binary' });
  });

  it('is the generator output (edit tools/api-docs/openapi.ts, then regenerate)', () => {
    expect(readFileSync(OPENAPI_PATH, 'utf8')).toBe(renderDocs().openapi);
  });
});

describe('Postman collection', () => {
  it('declares v2.1 and loads in the Postman collection SDK', () => {
    expect((postman.info as Obj).schema).toBe(POSTMAN_SCHEMA);
    const collection = new Collection(postman as never);
    const items = postmanItems(collection);
    expect(items.length).toBe(ROUTES.length);
    expect(collection.variables.get('baseUrl')).toMatch(/^http:\/\//);
    expect((postman.auth as Obj).type).toBe('bearer');
    expect(JSON.stringify(postman.auth)).toContain('{{apiKey}}');
    for (const item of items) {
      const url = item.request.url;
      expect(url.getHost(), item.name).toBe('{{baseUrl}}');
      // Every :param segment has a value to send.
      const params = url.path?.filter((seg) => seg.startsWith(':')).map((seg) => seg.slice(1)) ?? [];
      expect((url.variables.all() as { key: string }[]).map((v) => v.key), item.name).toEqual(params);
      expect(item.responses.count(), `${item.name} has saved example responses`).toBeGreaterThan(0);
    }
  });

  it('names exactly the routes in ROUTES', () => {
    const items = postmanItems(new Collection(postman as never));
    const keys = items.map((item) => normalise(item.request.method, `/${(item.request.url.path ?? []).join('/')}`)).sort();
    expect(keys).toEqual(routeKeys);
  });

  it('sends /predict as form-data with a file field and POST /cameras as JSON', () => {
    const items = postmanItems(new Collection(postman as never));
    const predict = items.find((i) => i.name === 'POST /predict')!;
    expect(predict.request.body?.mode).toBe('formdata');
    expect((predict.request.body?.formdata?.all() as Obj[]).map((p) => [p.key, p.type])).toEqual([['file', 'file']]);
    const add = items.find((i) => i.name === 'POST /cameras')!;
    expect(add.request.body?.mode).toBe('raw');
    expect(JSON.parse(add.request.body?.raw ?? '')).toMatchObject({ id: expect.any(String), url: expect.any(String) });
    expect(add.request.headers.get('Content-Type')).toBe('application/json');
  });

  it('maps OpenAPI path templates onto Postman segments', () => {
    expect(postmanPath('/cameras/{id}/preview.jpg')).toEqual(['cameras', ':id', 'preview.jpg']);
    expect(postmanPath('/')).toEqual([]);
  });

  it('is the generator output', () => {
    expect(readFileSync(POSTMAN_PATH, 'utf8')).toBe(renderDocs().postman);
  });
});
