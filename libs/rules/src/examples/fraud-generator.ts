import { inTimeOrder, type ExampleEvent, type ExampleStream, type ExpectedAlert } from './example-stream';
import { seededRandom } from './prng';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const HOMES = ['FR', 'DE', 'GB', 'US', 'ES', 'IT', 'NL', 'JP'];

/** Options of {@link generateFraud}. */
export interface FraudOptions {
  seed?: number;
  /** Clean cards. @defaultValue 200 */
  cards?: number;
  /** Clean payments in total. @defaultValue 4000 */
  payments?: number;
  /** Length of the clean stream. @defaultValue 24 h */
  durationMs?: number;
  /** Planted cases of each kind. @defaultValue 3 */
  planted?: number;
  start?: number;
}

/**
 * A payment stream for the fraud rules. Clean traffic is clean by construction: each card pays 5-300 in its home
 * country on its own device, at random times over the day (so under 10000 an hour and never over 1000). Planted,
 * each on fresh cards and devices so that cases do not interfere:
 * - card testing: 3-5 payments under 2 in a row, then one of 500-900 within the hour (alert on the large one);
 * - velocity count: 6 payments of 1001-1400 within 25 minutes (alert on the 6th);
 * - velocity amount: 3 payments of 3500-4500 within 40 minutes, over 10000 (alert on the 3rd);
 * - impossible travel: a payment at home, then one from a far country 20-60 minutes later (alert on the second);
 * - device with many cards: 4 fresh cards paying on one device within 40 minutes (alert on the 4th card).
 */
export function generateFraud(options: FraudOptions = {}): ExampleStream {
  const rnd = seededRandom(options.seed ?? 42);
  const start = options.start ?? 1_700_000_000_000;
  const duration = options.durationMs ?? 24 * HOUR;
  const events: ExampleEvent[] = [];
  const expected: ExpectedAlert[] = [];
  let n = 0;
  const pay = (cardId: string, amount: number, country: string, deviceId: string, timestamp: number): string => {
    const id = `pay-${++n}`;
    events.push({
      event: { id, type: 'payment', cardId, amount, currency: 'EUR', country, deviceId, merchantId: `m-${n % 97}` },
      timestamp,
    });
    return id;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const at = (): number => start + Math.floor(rnd() * duration);
  const cards = options.cards ?? 200;
  const homes = Array.from({ length: cards }, () => pick(HOMES));
  for (let i = 0; i < (options.payments ?? 4000); i++) {
    const c = Math.floor(rnd() * cards);
    pay(`card-${c}`, 5 + Math.round(rnd() * 29_500) / 100, homes[c], `dev-${c}`, at());
  }
  const planted = options.planted ?? 3;
  for (let i = 0; i < planted; i++) {
    const card = `ct-${i}`;
    let t = at();
    const tiny = 3 + Math.floor(rnd() * 3);
    for (let k = 0; k < tiny; k++) {
      pay(card, 0.5 + Math.round(rnd() * 149) / 100, 'FR', `ct-dev-${i}`, (t += 20_000 + Math.floor(rnd() * 60_000)));
    }
    const large = pay(card, 500 + Math.round(rnd() * 400), 'FR', `ct-dev-${i}`, t + 5 * MINUTE);
    expected.push({ ruleId: 'fraud-card-testing', key: `cardId=${card}`, lastEventId: large });
  }
  for (let i = 0; i < planted; i++) {
    const card = `vc-${i}`;
    let t = at();
    let last = '';
    for (let k = 0; k < 6; k++)
      last = pay(card, 1001 + Math.round(rnd() * 399), 'DE', `vc-dev-${i}`, (t += 4 * MINUTE));
    expected.push({ ruleId: 'fraud-velocity-count', key: `cardId=${card}`, lastEventId: last });
  }
  for (let i = 0; i < planted; i++) {
    const card = `va-${i}`;
    let t = at();
    let last = '';
    for (let k = 0; k < 3; k++)
      last = pay(card, 3500 + Math.round(rnd() * 1000), 'GB', `va-dev-${i}`, (t += 13 * MINUTE));
    expected.push({ ruleId: 'fraud-velocity-amount', key: `cardId=${card}`, lastEventId: last });
  }
  for (let i = 0; i < planted; i++) {
    const card = `it-${i}`;
    const t = at();
    pay(card, 40, 'FR', `it-dev-${i}`, t);
    const far = pay(
      card,
      60,
      pick(['US', 'JP', 'AU', 'BR']),
      `it-dev-${i}`,
      t + (20 + Math.floor(rnd() * 40)) * MINUTE,
    );
    expected.push({ ruleId: 'fraud-impossible-travel', key: `cardId=${card}`, lastEventId: far });
  }
  for (let i = 0; i < planted; i++) {
    const device = `shared-dev-${i}`;
    let t = at();
    let last = '';
    for (let k = 0; k < 4; k++) last = pay(`dm-${i}-${k}`, 20 + k, 'NL', device, (t += 10 * MINUTE));
    expected.push({ ruleId: 'fraud-device-many-cards', key: `deviceId=${device}`, lastEventId: last });
  }
  const ordered = inTimeOrder(events);
  return { events: ordered, expected, endTime: ordered[ordered.length - 1].timestamp + 7 * HOUR };
}
