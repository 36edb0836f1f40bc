import { bodyValidator } from '../json-body';
import { badRequest } from '../http-errors';

/** The body of `POST /replays` (docs/replay.md). */
export interface ReplayRequest {
  /** Names the replay and its output topic `alerts.replay.<id>`. @defaultValue a random id */
  id?: string;
  source:
    | { type: 'time'; from: number | string; to?: number | string }
    | { type: 'offsets'; partitions: Array<{ partition: number; from: string | number; to?: string | number }> }
    | { type: 'upload'; uploadId: string };
  /** @defaultValue `{ mode: 'current' }` */
  rules?:
    | { mode: 'current' }
    | { mode: 'versions'; versions: Record<string, number> }
    | { mode: 'candidate'; rule: Record<string, unknown>; withCurrent?: boolean };
  /** @defaultValue the API's CEPHEUS_OUT_OF_ORDERNESS_MS (which should equal the engines') */
  outOfOrdernessMs?: number;
  /** Move the watermark past every event at the end, closing windows the live run would still hold. @defaultValue false */
  closeWindowsAtEnd?: boolean;
}

const time = {
  anyOf: [
    { type: 'integer', minimum: 0 },
    { type: 'string', format: 'date-time' },
  ],
};
const offset = {
  anyOf: [
    { type: 'integer', minimum: 0 },
    { type: 'string', pattern: '^\\d+$' },
  ],
};

const envelope = bodyValidator<Record<string, unknown>>({
  type: 'object',
  required: ['source'],
  additionalProperties: false,
  properties: {
    id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
    source: { type: 'object', required: ['type'], properties: { type: { enum: ['time', 'offsets', 'upload'] } } },
    rules: {
      type: 'object',
      required: ['mode'],
      properties: { mode: { enum: ['current', 'versions', 'candidate'] } },
    },
    outOfOrdernessMs: { type: 'integer', minimum: 0 },
    closeWindowsAtEnd: { type: 'boolean' },
  },
});

const sources: Record<string, (body: unknown) => unknown> = {
  time: bodyValidator({
    type: 'object',
    required: ['type', 'from'],
    additionalProperties: false,
    properties: { type: { const: 'time' }, from: time, to: time },
  }),
  offsets: bodyValidator({
    type: 'object',
    required: ['type', 'partitions'],
    additionalProperties: false,
    properties: {
      type: { const: 'offsets' },
      partitions: {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          required: ['partition', 'from'],
          additionalProperties: false,
          properties: { partition: { type: 'integer', minimum: 0 }, from: offset, to: offset },
        },
      },
    },
  }),
  upload: bodyValidator({
    type: 'object',
    required: ['type', 'uploadId'],
    additionalProperties: false,
    properties: { type: { const: 'upload' }, uploadId: { type: 'string', pattern: '^[A-Za-z0-9-]+$' } },
  }),
};

const ruleModes: Record<string, (body: unknown) => unknown> = {
  current: bodyValidator({ type: 'object', additionalProperties: false, properties: { mode: { const: 'current' } } }),
  versions: bodyValidator({
    type: 'object',
    required: ['mode', 'versions'],
    additionalProperties: false,
    properties: {
      mode: { const: 'versions' },
      versions: { type: 'object', minProperties: 1, additionalProperties: { type: 'integer', minimum: 1 } },
    },
  }),
  candidate: bodyValidator({
    type: 'object',
    required: ['mode', 'rule'],
    additionalProperties: false,
    properties: { mode: { const: 'candidate' }, rule: { type: 'object' }, withCurrent: { type: 'boolean' } },
  }),
};

/** Checks the body in two steps (envelope, then the chosen variant), so errors name fields inside the variant. */
export function parseReplayRequest(body: unknown): ReplayRequest {
  const request = envelope(body);
  nested(sources[(request.source as { type: string }).type], request.source, '/source');
  if (request.rules !== undefined) nested(ruleModes[(request.rules as { mode: string }).mode], request.rules, '/rules');
  return request as unknown as ReplayRequest;
}

function nested(validate: (body: unknown) => unknown, value: unknown, prefix: string): void {
  try {
    validate(value);
  } catch (error) {
    const response = (
      error as { getResponse?: () => { errors?: Array<{ field: string; reason: string }> } }
    ).getResponse?.();
    if (!response?.errors) throw error;
    throw badRequest(
      'the request body is invalid',
      response.errors.map((e) => ({ field: `${prefix}${e.field === '/' ? '' : e.field}`, reason: e.reason })),
    );
  }
}
