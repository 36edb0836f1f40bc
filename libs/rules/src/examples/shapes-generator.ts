import { inTimeOrder, type ExampleEvent, type ExampleStream, type ExpectedAlert } from './example-stream';
import { seededRandom } from './prng';

const MINUTE = 60_000;
/** Colours whose traffic is clean by construction. */
const CLEAN_COLOURS = ['red', 'green', 'blue', 'yellow'];

/** Options of {@link generateShapes}. */
export interface ShapesOptions {
  seed?: number;
  /** Clean cycles per clean colour. @defaultValue 20 */
  cycles?: number;
  /** Planted "square then triangle" cases. @defaultValue 3 */
  squareTriangle?: number;
  /** Planted "circle without square" cases. @defaultValue 3 */
  lonelyCircles?: number;
  /** Start time. @defaultValue 1_700_000_000_000 */
  start?: number;
}

/**
 * The shapes demo stream. Clean colours repeat a cycle that never completes either rule: triangle, circle, then the
 * square 10-40 s after the circle (so the circle is answered), the next cycle more than 10 minutes later (so no
 * triangle follows a square in time). Planted cases use colours of their own: a square then a same-colour triangle
 * 1-9 minutes later (expected alert on the triangle), and a circle with no square for over a minute (expected alert on
 * the circle, at time-out).
 */
export function generateShapes(options: ShapesOptions = {}): ExampleStream {
  const rnd = seededRandom(options.seed ?? 7);
  const start = options.start ?? 1_700_000_000_000;
  const events: ExampleEvent[] = [];
  const expected: ExpectedAlert[] = [];
  let n = 0;
  const shape = (colour: string, s: string, timestamp: number): string => {
    const id = `shape-${++n}`;
    events.push({ event: { id, type: 'shape', shape: s, colour, board: 'demo' }, timestamp });
    return id;
  };
  const cycles = options.cycles ?? 20;
  for (const colour of CLEAN_COLOURS) {
    let t = start + Math.floor(rnd() * MINUTE);
    for (let c = 0; c < cycles; c++) {
      shape(colour, 'triangle', t);
      const circle = t + 1000 + Math.floor(rnd() * 20_000);
      shape(colour, 'circle', circle);
      shape(colour, 'square', circle + 10_000 + Math.floor(rnd() * 30_000));
      t = circle + 11 * MINUTE + Math.floor(rnd() * 5 * MINUTE);
    }
  }
  for (let i = 0; i < (options.squareTriangle ?? 3); i++) {
    const colour = `planted-st-${i}`;
    const t = start + Math.floor(rnd() * 60 * MINUTE);
    shape(colour, 'square', t);
    const triangle = shape(colour, 'triangle', t + MINUTE + Math.floor(rnd() * 8 * MINUTE));
    expected.push({ ruleId: 'shapes-square-then-triangle', key: `colour=${colour}`, lastEventId: triangle });
  }
  for (let i = 0; i < (options.lonelyCircles ?? 3); i++) {
    const colour = `planted-c-${i}`;
    const t = start + Math.floor(rnd() * 60 * MINUTE);
    const circle = shape(colour, 'circle', t);
    // A square, but too late: the alert must still fire.
    shape(colour, 'square', t + 2 * MINUTE);
    expected.push({ ruleId: 'shapes-circle-without-square', key: `colour=${colour}`, lastEventId: circle });
  }
  const ordered = inTimeOrder(events);
  return { events: ordered, expected, endTime: ordered[ordered.length - 1].timestamp + 11 * MINUTE };
}
