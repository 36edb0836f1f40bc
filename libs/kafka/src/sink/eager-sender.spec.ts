import type { OutputRecord } from './alert-transaction-writer';
import { EagerSender } from './eager-sender';

const record = (value: string): OutputRecord => ({ topic: 'alerts', key: null, value });

/** A send whose completion the test controls. */
function controlledSend() {
  const calls: { records: string[]; resolve: () => void; reject: (e: Error) => void }[] = [];
  const send = (records: OutputRecord[]) =>
    new Promise<void>((resolve, reject) => calls.push({ records: records.map((r) => r.value), resolve, reject }));
  return { calls, send };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('EagerSender', () => {
  it('sends at once, and coalesces what queues up while a send is in flight into the next send', async () => {
    const { calls, send } = controlledSend();
    const acknowledged: string[] = [];
    const sender = new EagerSender(send, (rs) => acknowledged.push(...rs.map((r) => r.value)));
    sender.enqueue([record('a')]);
    expect(calls.map((c) => c.records)).toEqual([['a']]);
    sender.enqueue([record('b')]);
    sender.enqueue([record('c'), record('d')]);
    expect(calls).toHaveLength(1);
    expect(sender.pending).toBe(4);
    calls[0].resolve();
    await tick();
    expect(calls.map((c) => c.records)).toEqual([['a'], ['b', 'c', 'd']]);
    calls[1].resolve();
    await tick();
    expect(acknowledged).toEqual(['a', 'b', 'c', 'd']);
    expect(sender.pending).toBe(0);
  });

  it('flush waits for what was enqueued before it, not for what comes after', async () => {
    const { calls, send } = controlledSend();
    const sender = new EagerSender(send);
    sender.enqueue([record('a')]);
    let flushed = false;
    const flush = sender.flush().then(() => {
      flushed = true;
    });
    sender.enqueue([record('b')]);
    await tick();
    expect(flushed).toBe(false);
    calls[0].resolve();
    await flush;
    expect(flushed).toBe(true);
    expect(sender.pending).toBe(1);
    const second = sender.flush();
    await tick();
    calls[1].resolve();
    await expect(second).resolves.toBeUndefined();
    expect(sender.pending).toBe(0);
  });

  it('after a failed send it sends nothing more and every flush rejects with the error', async () => {
    const { calls, send } = controlledSend();
    const sender = new EagerSender(send);
    sender.enqueue([record('a')]);
    const flush = sender.flush();
    sender.enqueue([record('b')]);
    calls[0].reject(new Error('broker gone'));
    await expect(flush).rejects.toThrow('broker gone');
    expect(sender.failed).toBe(true);
    sender.enqueue([record('c')]);
    await tick();
    expect(calls).toHaveLength(1);
    await expect(sender.flush()).rejects.toThrow('broker gone');
  });

  it('flush with nothing pending resolves at once', async () => {
    const sender = new EagerSender(() => Promise.reject(new Error('never called')));
    await expect(sender.flush()).resolves.toBeUndefined();
  });
});
