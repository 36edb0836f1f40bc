import { parentPort, workerData } from 'node:worker_threads';
import { ReplayEvaluator } from './replay-evaluator';
import { unpackBatch, type WorkerInit, type WorkerReply, type WorkerRequest } from './replay-worker-protocol';

// A worker thread of a parallel replay: evaluates the partitions it is given, in the order it receives their batches.
const init = workerData as WorkerInit;
const evaluator = new ReplayEvaluator(init.rules, init.options);
parentPort?.on('message', (request: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    if (request.type === 'batch') {
      const messages = unpackBatch(request);
      reply = {
        type: 'batch',
        seq: request.seq,
        alerts: evaluator.process(request.partition, messages),
        events: messages.length,
      };
    } else {
      reply = {
        type: 'finish',
        seq: request.seq,
        alerts: request.flushTo === undefined ? [] : evaluator.flush(request.flushTo),
        deadLetters: evaluator.deadLetters,
        rules: evaluator.rules,
      };
    }
  } catch (error) {
    reply = { type: 'error', seq: request.seq, message: (error as Error).stack ?? String(error) };
  }
  parentPort?.postMessage(reply);
});
