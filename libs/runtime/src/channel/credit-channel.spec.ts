import { MessageChannel } from 'node:worker_threads';
import { Connection, type OutputChannel } from './credit-channel';

const RUN_MS = 300;
const SLOW_HOLD_MS = 15;
const CREDITS = 4;

/**
 * Two producers share one connection (one MessagePort pair): channel 0 feeds a slow instance (each frame is held for
 * SLOW_HOLD_MS before its buffer is released, as a sink waiting on I/O would), channel 1 a fast one. Returns frames
 * delivered per channel and the most frames ever buffered, unreleased, at the slow receiver.
 */
async function run(slow: boolean): Promise<{ fast: number; slow: number; maxBufferedAtSlow: number }> {
  const mc = new MessageChannel();
  const sender = new Connection(mc.port1);
  const receiver = new Connection(mc.port2);
  let fast = 0;
  let slowCount = 0;
  let buffered = 0;
  let maxBuffered = 0;
  receiver.input(0, CREDITS, (_frame, release) => {
    slowCount++;
    buffered++;
    maxBuffered = Math.max(maxBuffered, buffered);
    const done = (): void => {
      buffered--;
      release();
    };
    if (slow) setTimeout(done, SLOW_HOLD_MS);
    else done();
  });
  receiver.input(1, CREDITS, (_frame, release) => {
    fast++;
    release();
  });
  const outputs = [sender.output(0), sender.output(1)];
  const end = Date.now() + RUN_MS;
  const produce = async (out: OutputChannel): Promise<void> => {
    const frame = { r: ['k', 0, 0, { payload: 'x'.repeat(64) }] };
    while (Date.now() < end) {
      if (out.backlogged) await Promise.race([out.whenWritable(), new Promise((r) => setTimeout(r, 5))]);
      else out.send(frame);
      // Yield so that the connection's messages (data and credits) flow.
      await new Promise((r) => setImmediate(r));
    }
  };
  await Promise.all(outputs.map(produce));
  mc.port1.close();
  mc.port2.close();
  return { fast, slow: slowCount, maxBufferedAtSlow: maxBuffered };
}

describe('credit-based flow control', () => {
  it('keeps the fast channel at its throughput when a slow channel shares the connection', async () => {
    const baseline = await run(false);
    const withSlow = await run(true);
    // The fast instance keeps most of the throughput it has next to another fast one...
    expect(withSlow.fast / baseline.fast).toBeGreaterThan(0.6);
    // ...while the slow one is held to its pace: far fewer frames than the fast one.
    expect(withSlow.slow / withSlow.fast).toBeLessThan(0.2);
    // And the slow receiver never buffered more than the credits it granted: nothing piled up on the connection.
    expect(withSlow.maxBufferedAtSlow).toBeLessThanOrEqual(CREDITS);
  });

  it('never sends a frame without credit', async () => {
    const mc = new MessageChannel();
    const sender = new Connection(mc.port1);
    const receiver = new Connection(mc.port2);
    const held: (() => void)[] = [];
    receiver.input(7, 2, (_f, release) => held.push(release));
    const out = sender.output(7, 3);
    for (let i = 0; i < 5; i++) out.send({ r: [i] });
    await new Promise((r) => setTimeout(r, 20));
    expect(held).toHaveLength(2);
    expect(out.backlogged).toBe(true);
    held.shift()!();
    await new Promise((r) => setTimeout(r, 20));
    expect(held).toHaveLength(2);
    expect(out.framesSent).toBe(3);
    mc.port1.close();
    mc.port2.close();
  });
});
