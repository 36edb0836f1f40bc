import type { Sink, SinkWriter } from './sink';

/** Options of a {@link StdoutSink}. */
export interface StdoutSinkOptions {
  name?: string;
  /** Where lines go. @defaultValue process.stdout */
  stream?: { write(chunk: string): unknown };
}

/**
 * JSON lines on stdout (or any stream), at-least-once: lines leave at every checkpoint barrier and whenever 64 KiB
 * have gathered, so a restart may repeat the lines written since the last checkpoint. For demos and piping into jq;
 * use `FileSink` for exactly-once files.
 */
export class StdoutSink<T> implements Sink<T> {
  readonly name: string;
  readonly #stream: { write(chunk: string): unknown };

  constructor(options: StdoutSinkOptions = {}) {
    this.name = options.name ?? 'stdout';
    this.#stream = options.stream ?? process.stdout;
  }

  createWriter(): SinkWriter<T> {
    const stream = this.#stream;
    let buffer = '';
    const flush = (): void => {
      if (buffer) stream.write(buffer);
      buffer = '';
    };
    return {
      write(value: T) {
        buffer += JSON.stringify(value) + '\n';
        if (buffer.length > 65536) flush();
      },
      prepareCommit() {
        flush();
        return undefined;
      },
      commit() {},
      close: flush,
    };
  }
}
