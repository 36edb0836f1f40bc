import type { CheckpointSources, JsonValue, SplitState } from '@cepheus/runtime';

/**
 * The positions of the raw events source's splits in a checkpoint: the decoding source wraps each split's offset with
 * the largest event time it read (see `DecodingSource`); a sink that commits offsets to the source system (Kafka's
 * `sendOffsets`) needs the inner one. A split never read has a `null` offset.
 */
export function eventSourcePositions(sources: CheckpointSources, sourceName = 'events'): SplitState[] {
  return (sources[sourceName] ?? []).map((s) => {
    const wrapped = s.offset as { inner?: JsonValue } | null;
    return { split: s.split, offset: wrapped === null ? null : (wrapped.inner ?? null) };
  });
}
