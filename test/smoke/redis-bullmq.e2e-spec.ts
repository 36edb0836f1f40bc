import { Queue, QueueEvents, Worker, type Job } from 'bullmq';
import Redis from 'ioredis';
import { redisUrl, uniqueName } from '../support/services';

describe('smoke: the real Redis', () => {
  it('round-trips values through ioredis, binary included', async () => {
    const redis = new Redis(redisUrl());
    const key = uniqueName('smoke:redis');
    const blob = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 256));
    try {
      await redis.set(key, blob, 'PX', 60_000);
      const back = await redis.getBuffer(key);
      expect(back?.equals(blob)).toBe(true);
      expect(await redis.del(key)).toBe(1);
    } finally {
      redis.disconnect();
    }
  });

  it('queues a BullMQ job, processes it and reports its progress', async () => {
    const connection = { url: redisUrl(), maxRetriesPerRequest: null };
    const name = uniqueName('smoke-queue');
    const queue = new Queue(name, { connection });
    const events = new QueueEvents(name, { connection });
    const progress: number[] = [];
    events.on('progress', ({ data }) => progress.push(Number(data)));
    const worker = new Worker(
      name,
      async (job: Job<{ n: number }>) => {
        for (let i = 1; i <= 4; i += 1) await job.updateProgress(i * 25);
        return { doubled: job.data.n * 2 };
      },
      { connection },
    );
    try {
      await events.waitUntilReady();
      const job = await queue.add('double', { n: 21 });
      const result = (await job.waitUntilFinished(events, 15_000)) as { doubled: number };
      expect(result).toEqual({ doubled: 42 });
      // Progress events arrive over pub/sub; wait until the last one is in.
      const deadline = Date.now() + 5000;
      while (!progress.includes(100) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(progress).toEqual(expect.arrayContaining([25, 50, 75, 100]));
    } finally {
      await worker.close();
      await events.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});
