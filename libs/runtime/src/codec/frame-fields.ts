/** Writes the fields of a record value into a channel frame (see `RecordCodec`). */
export interface FrameWriter {
  f64(value: number): void;
  u32(value: number): void;
  string(value: string): void;
}

/** Reads back what a {@link FrameWriter} wrote, in the same order. */
export interface FrameReader {
  f64(): number;
  u32(): number;
  string(): string;
}
