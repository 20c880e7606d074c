// Checks a running `tasker serve` with clients this project did not write.
//   TASKER_URL=http://127.0.0.1:PORT TASKER_TOKEN=... DOCS=docs/graphql.md node check.mjs
// 1. graphql-js builds the schema from introspection and validates every
//    operation of the docs' graphql blocks against it;
// 2. graphql-ws subscribes to taskUpdated for a task created by createTask
//    and waits for it to complete; a bad credential is refused (4403).
import { readFileSync } from 'node:fs';
import { buildClientSchema, getIntrospectionQuery, parse, validate, assertValidSchema } from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const url = process.env.TASKER_URL;
const token = process.env.TASKER_TOKEN;
const docs = process.env.DOCS;
const endpoint = url + '/tasker/graphql';
const wsEndpoint = endpoint.replace(/^http/, 'ws');

async function gql(query, variables) {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + token },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (res.status !== 200 || body.errors) {
    throw new Error(`HTTP ${res.status}: ${JSON.stringify(body.errors)}`);
  }
  return body.data;
}

// operations splits the graphql blocks of a Markdown file into operations:
// one starts at a line that opens with "{", "query", "mutation" or
// "subscription"; other lines continue it.
function operations(markdown) {
  const ops = [];
  for (const block of markdown.matchAll(/```graphql\n([\s\S]*?)```/g)) {
    for (const line of block[1].split('\n')) {
      if (line.trim() === '') continue;
      if (/^\s*({|query\b|mutation\b|subscription\b)/.test(line) || ops.length === 0) ops.push(line);
      else ops[ops.length - 1] += '\n' + line;
    }
  }
  return ops;
}

const report = {};

// 1. The schema and the documented operations.
const schema = buildClientSchema(await gql(getIntrospectionQuery()));
assertValidSchema(schema);
const ops = operations(readFileSync(docs, 'utf8'));
if (ops.length < 10) throw new Error(`only ${ops.length} operations found in ${docs}`);
const invalid = [];
for (const op of ops) {
  const errors = validate(schema, parse(op));
  if (errors.length) invalid.push({ op, errors: errors.map((e) => e.message) });
}
if (invalid.length) throw new Error('invalid documented operations: ' + JSON.stringify(invalid, null, 2));
report.validated = ops.length;

// 2. A subscription with graphql-ws.
const { createTask } = await gql(
  'mutation($ctx: JSON!) { createTask(input: {name: "linear_workflow", context: $ctx}) { taskId status } }',
  { ctx: { even_number: 2 } },
);
const client = createClient({
  url: wsEndpoint,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: 'Bearer ' + token },
  retryAttempts: 0,
});
const statuses = [];
await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('no complete status within 60 s: ' + statuses.join(','))), 60000);
  const stop = client.subscribe(
    { query: 'subscription($id: ID!) { taskUpdated(taskId: $id) { taskId status workflowSteps { name status } } }', variables: { id: createTask.taskId } },
    {
      next: ({ data, errors }) => {
        if (errors) { clearTimeout(timer); reject(new Error(JSON.stringify(errors))); return; }
        statuses.push(data.taskUpdated.status);
        if (data.taskUpdated.status === 'complete') {
          if (!data.taskUpdated.workflowSteps.every((s) => s.status === 'complete')) {
            reject(new Error('complete task with unfinished steps: ' + JSON.stringify(data)));
          }
          clearTimeout(timer); stop(); resolve();
        }
      },
      error: (err) => { clearTimeout(timer); reject(err instanceof Error ? err : new Error(JSON.stringify(err))); },
      complete: () => {},
    },
  );
});
await client.dispose();
report.statuses = statuses;

// A bad credential closes the socket with 4403.
const bad = createClient({ url: wsEndpoint, webSocketImpl: WebSocket, connectionParams: { authorization: 'Bearer tkr_wrong' }, retryAttempts: 0 });
report.badCredentialClose = await new Promise((resolve) => {
  bad.subscribe({ query: '{ __typename }' }, {
    next: () => resolve('answered'),
    error: (err) => resolve(err && err.code !== undefined ? err.code : String(err)),
    complete: () => resolve('completed'),
  });
});
await bad.dispose();
if (report.badCredentialClose !== 4403) throw new Error('a bad credential was not refused with 4403: ' + report.badCredentialClose);

console.log(JSON.stringify(report));
