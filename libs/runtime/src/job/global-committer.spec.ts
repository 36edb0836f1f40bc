import { MemoryCheckpointStorage } from '../checkpoint/memory-checkpoint-storage';
import type { JsonValue } from '../checkpoint/checkpoint-storage';
import type { CheckpointSources, Sink, SinkWriter } from '../connectors/sink';
import { CollectSink, buildRulesJob, fixtureEvents, fixtureRules, sortedOutput } from '../testing';
import { JobRunner } from './job-runner';

/**
 * A sink with a global committer, modelled on a Kafka transaction that holds every writer's records and the source
 * positions (`sendOffsets`): `published` is the topic, `committedSources` the consumer group's offsets. The commit can
 * be made to fail before it publishes, or after (the transaction went through, the answer was lost).
 */
class TransactionLikeSink implements Sink<JsonValue> {
  readonly name = 'txn';
  readonly published: JsonValue[] = [];
  committedSources = '';
  commits = 0;
  constructor(private readonly failures: Map<number, 'before' | 'after'>) {}

  createWriter(): SinkWriter<JsonValue> {
    let open: JsonValue[] = [];
    return {
      write: (value) => void open.push(value),
      prepareCommit: () => {
        const records = open;
        open = [];
        return records;
      },
      commit: () => undefined,
      abort: () => void (open = []),
    };
  }

  #publish(committables: readonly JsonValue[], sources: CheckpointSources): void {
    for (const c of committables) this.published.push(...(c as JsonValue[]));
    this.committedSources = JSON.stringify(sources);
  }

  async commitCheckpoint(_id: number, committables: readonly JsonValue[], sources: CheckpointSources): Promise<void> {
    const failure = this.failures.get(++this.commits);
    if (failure === 'before') throw new Error('broker unreachable');
    this.#publish(committables, sources);
    if (failure === 'after') throw new Error('the commit went through, its answer was lost');
  }

  recover(committables: readonly JsonValue[], _id: number | undefined, sources: CheckpointSources): void {
    // Published already when the committed positions are this checkpoint's own (Kafka: committed offsets).
    if (committables.length > 0 && this.committedSources !== JSON.stringify(sources)) {
      this.#publish(committables, sources);
    }
  }
}

describe('a sink with a global committer', () => {
  const events = fixtureEvents(400, 12, 3, 7);
  const rules = fixtureRules(20, 5);

  async function reference(): Promise<string[]> {
    const sink = new CollectSink<JsonValue>();
    await new JobRunner(buildRulesJob({ events, rules, sink }), { parallelism: 2 }).run();
    return sortedOutput(sink.committed);
  }

  it.each(['before', 'after'] as const)('publishes every record exactly once when a commit fails %s', async (when) => {
    const sink = new TransactionLikeSink(
      new Map([
        [2, when],
        [5, when],
      ]),
    );
    const result = await new JobRunner(buildRulesJob({ events, rules, sink }), {
      parallelism: 2,
      storage: new MemoryCheckpointStorage(),
      checkpointIntervalMs: 1,
      batchSize: 7,
      frameSize: 5,
      maxRestarts: 5,
    }).run();
    expect(result.restarts).toBeGreaterThanOrEqual(1);
    expect(sortedOutput(sink.published)).toEqual(await reference());
  });
});
