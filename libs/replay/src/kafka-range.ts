import type { Admin } from 'kafkajs';
import type { PartitionRange, ReplayRange } from './replay-types';

/**
 * Turns a replay range into per-partition offsets. The end of every partition is capped at its high watermark as of
 * now: a replay reads a fixed slice and ends, even while producers keep writing.
 */
export async function resolveKafkaRange(admin: Admin, topic: string, range: ReplayRange): Promise<PartitionRange[]> {
  const high = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]));
  const low = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.low)]));
  if (range.type === 'time') {
    if (range.to !== undefined && range.to < range.from) throw new RangeError('range.to must not be before range.from');
    const starts = await admin.fetchTopicOffsetsByTimestamp(topic, range.from);
    const ends = range.to === undefined ? undefined : await admin.fetchTopicOffsetsByTimestamp(topic, range.to);
    return starts
      .map(({ partition, offset }) => {
        const cap = high.get(partition) ?? 0n;
        const endOffset = ends?.find((e) => e.partition === partition)?.offset;
        const end = endOffset === undefined ? cap : minBig(BigInt(endOffset), cap);
        return { partition, start: minBig(BigInt(offset), end), end };
      })
      .sort((a, b) => a.partition - b.partition);
  }
  return range.partitions
    .map(({ partition, from, to }) => {
      const cap = high.get(partition);
      if (cap === undefined) throw new RangeError(`partition ${partition} does not exist in topic ${topic}`);
      const end = to === undefined ? cap : minBig(BigInt(to), cap);
      const start = BigInt(from) < (low.get(partition) ?? 0n) ? (low.get(partition) ?? 0n) : BigInt(from);
      return { partition, start: minBig(start, end), end };
    })
    .sort((a, b) => a.partition - b.partition);
}

function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
