/**
 * Derives a Postman Collection v2.1 from the OpenAPI document: one folder per
 * tag, one request per operation, the documented examples as saved
 * responses, and a status check per request.
 */
import type { Json, JsonObject } from './openapi.js';

export const POSTMAN_SCHEMA = 'https://schema.getpostman.com/json/collection/v2.1.0/collection.json';
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

const obj = (value: Json | undefined): JsonObject => (value && typeof value === 'object' && !Array.isArray(value) ? value : {});
const arr = (value: Json | undefined): Json[] => (Array.isArray(value) ? value : []);
const str = (value: Json | undefined): string => (typeof value === 'string' ? value : '');

function pretty(value: Json): string {
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

/** `/cameras/{id}/preview.jpg` → `['cameras', ':id', 'preview.jpg']` */
export function postmanPath(path: string): string[] {
  return path.split('/').filter(Boolean).map((seg) => seg.replace(/^\{(.+)\}$/, ':$1'));
}

interface Built {
  request: JsonObject;
  responses: Json[];
}

function buildRequest(path: string, method: string, op: JsonObject): Built {
  const params = arr(op.parameters).map(obj);
  const segments = postmanPath(path);
  const query = params.filter((p) => p.in === 'query').map((p) => ({ key: str(p.name), value: String(p.example ?? ''), description: str(p.description), disabled: p.required !== true }));
  const activeQuery = query.filter((q) => !q.disabled).map((q) => `${q.key}=${q.value}`);
  const url: JsonObject = {
    raw: `{{baseUrl}}/${segments.join('/')}${activeQuery.length ? `?${activeQuery.join('&')}` : ''}`,
    host: ['{{baseUrl}}'],
    path: segments,
  };
  if (query.length) url.query = query;
  const variables = params.filter((p) => p.in === 'path').map((p) => ({ key: str(p.name), value: String(p.example ?? ''), description: str(p.description) }));
  if (variables.length) url.variable = variables;

  const header: JsonObject[] = params
    .filter((p) => p.in === 'header')
    .map((p) => {
      const schema = obj(p.schema);
      const value = arr(schema.enum)[0] ?? p.example ?? '';
      return { key: str(p.name), value: String(value), description: str(p.description), disabled: p.required !== true };
    });

  const request: JsonObject = { method: method.toUpperCase(), header, url, description: [str(op.summary), str(op.description)].filter(Boolean).join('\n\n') };
  // Protected routes inherit the collection's Bearer {{apiKey}}; public ones send none.
  if (Array.isArray(op.security) && op.security.length === 0) request.auth = { type: 'noauth' };
  const content = obj(obj(op.requestBody).content);
  if (content['application/json']) {
    header.push({ key: 'Content-Type', value: 'application/json' });
    request.body = { mode: 'raw', raw: pretty(obj(content['application/json']).example ?? {}), options: { raw: { language: 'json' } } };
  } else if (content['multipart/form-data']) {
    const props = obj(obj(obj(content['multipart/form-data']).schema).properties);
    request.body = {
      mode: 'formdata',
      formdata: Object.entries(props).map(
        ([key, schema]): JsonObject =>
          obj(schema).format === 'binary' ? { key, type: 'file', src: [], description: str(obj(schema).description) } : { key, type: 'text', value: '' },
      ),
    };
  }

  const responses: Json[] = [];
  for (const [code, raw] of Object.entries(obj(op.responses))) {
    const res = obj(raw);
    const entries = Object.entries(obj(res.content));
    const [type, media] = entries[0] ?? ['', {}];
    const example = obj(media).example ?? Object.values(obj(obj(media).examples)).map((e) => obj(e).value)[0];
    responses.push({
      name: `${code} ${str(res.description)}`.trim(),
      originalRequest: { method: request.method as string, header: [], url },
      status: str(res.description),
      code: Number(code),
      _postman_previewlanguage: type.includes('json') ? 'json' : 'text',
      header: type ? [{ key: 'Content-Type', value: type }] : [],
      body: example === undefined ? '' : pretty(example),
    });
  }
  return { request, responses };
}

function statusTest(op: JsonObject): JsonObject[] {
  const ok = Object.keys(obj(op.responses)).find((c) => /^[12]\d\d$/.test(c));
  if (!ok || ok === '101') return [];
  return [
    {
      listen: 'test',
      script: { type: 'text/javascript', exec: [`pm.test('answers ${ok}', function () {`, `  pm.response.to.have.status(${ok});`, '});'] },
    },
  ];
}

export function buildPostman(openapi: JsonObject, baseUrl = 'http://localhost:8000'): JsonObject {
  const info = obj(openapi.info);
  const folders = new Map<string, JsonObject[]>();
  for (const tag of arr(openapi.tags)) folders.set(str(obj(tag).name), []);
  for (const [path, rawItem] of Object.entries(obj(openapi.paths))) {
    const item = obj(rawItem);
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const operation = obj(op);
      const { request, responses } = buildRequest(path, method, operation);
      const tag = str(arr(operation.tags)[0]) || 'other';
      if (!folders.has(tag)) folders.set(tag, []);
      folders.get(tag)!.push({ name: `${method.toUpperCase()} ${path}`, request, response: responses, event: statusTest(operation) });
    }
  }
  const descriptions = new Map(arr(openapi.tags).map((t) => [str(obj(t).name), str(obj(t).description)]));
  return {
    info: {
      name: str(info.title),
      description: `${str(info.description)}\n\nSet the collection variables baseUrl to the service address and apiKey to an API key (read or admin role).`,
      schema: POSTMAN_SCHEMA,
      version: str(info.version),
    },
    item: [...folders].filter(([, items]) => items.length).map(([name, items]) => ({ name, description: descriptions.get(name) ?? '', item: items })),
    auth: { type: 'bearer', bearer: [{ key: 'token', value: '{{apiKey}}', type: 'string' }] },
    variable: [
      { key: 'baseUrl', value: baseUrl, type: 'string' },
      { key: 'apiKey', value: '', type: 'string' },
    ],
  };
}
