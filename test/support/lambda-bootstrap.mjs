// The runtime side of test/support/lambda-harness.ts: one Lambda execution environment. It loads
// the handler once (the cold start), then runs one invocation at a time as the parent asks over IPC.
// Events and results cross as JSON text, as they cross Lambda's Runtime API.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [taskRoot, handlerSpec] = process.argv.slice(2);
const dot = handlerSpec.lastIndexOf('.');
const file = join(taskRoot, `${handlerSpec.slice(0, dot)}.mjs`);
const exportName = handlerSpec.slice(dot + 1);

/** What Lambda's Node runtime reports for a thrown value. */
const toLambdaError = (err) =>
  err instanceof Error
    ? { errorType: err.name || 'Error', errorMessage: err.message, trace: String(err.stack ?? '').split('\n') }
    : { errorType: typeof err, errorMessage: String(err), trace: [] };

let handler;
let initError;
try {
  const mod = await import(pathToFileURL(file).href);
  handler = mod[exportName];
  if (typeof handler !== 'function')
    initError = { errorType: 'Runtime.HandlerNotFound', errorMessage: `${handlerSpec} is undefined or not exported`, trace: [] };
} catch (err) {
  initError = toLambdaError(err);
}
process.send({ type: 'ready' });

process.on('message', async (msg) => {
  if (msg.type !== 'invoke') return;
  if (initError) return process.send({ type: 'error', id: msg.id, error: initError });
  const context = {
    awsRequestId: randomUUID(),
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: '$LATEST',
    invokedFunctionArn: msg.functionArn,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: `/aws/lambda/${process.env.AWS_LAMBDA_FUNCTION_NAME}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, msg.deadline - Date.now()),
  };
  try {
    const result = await handler(JSON.parse(msg.event), context);
    process.send({ type: 'result', id: msg.id, payload: JSON.stringify(result ?? null) });
  } catch (err) {
    process.send({ type: 'error', id: msg.id, error: toLambdaError(err) });
  }
});
