import { createHash } from 'node:crypto';
import type { Rule } from '../model/rule';

/** The answer of {@link canKeepState}. */
export interface StateCompatibility {
  keep: boolean;
  reason: string;
}

/*
 * The part of a rule its keyed state depends on. Aggregates keep per event the time, the id and the field value
 * (numbers for sum/avg/min/max, primitives for distinctCount): state stays valid across changes of filter, limit,
 * comparison, window length, severity or template, but not of group-by, field or value kind. Sequence state is an
 * NFA's partial matches, valid only for the very same steps, window and skip strategy.
 */
function shapeDocument(rule: Rule): string {
  if (rule.type === 'aggregate') {
    const fn = rule.aggregate.function;
    const valueKind = fn === 'count' ? 'none' : fn === 'distinctCount' ? 'primitive' : 'number';
    return JSON.stringify([
      'aggregate',
      'sliding',
      rule.groupBy,
      valueKind === 'none' ? null : rule.aggregate.field,
      valueKind,
    ]);
  }
  const s = rule.sequence;
  return JSON.stringify(['sequence', rule.groupBy, s.steps, s.within ?? null, s.skip ?? null]);
}

/** A short digest of {@link shapeDocument}, stored in every keyed state so a changed rule is noticed lazily, per key. */
export function stateShapeOf(rule: Rule): string {
  return createHash('sha256').update(shapeDocument(rule)).digest('base64url').slice(0, 16);
}

/**
 * Whether the keyed state of `previous` can serve `next` (a new version of the same rule). A deleted `next` never
 * keeps state; neither does a rule whose id changed.
 */
export function canKeepState(previous: Rule, next: Rule): StateCompatibility {
  if (previous.id !== next.id) return { keep: false, reason: 'different rule ids' };
  if (next.status === 'deleted') return { keep: false, reason: 'the rule is deleted: its state is cleared' };
  if (previous.type !== next.type)
    return { keep: false, reason: `the rule changed from ${previous.type} to ${next.type}` };
  if (JSON.stringify(previous.groupBy) !== JSON.stringify(next.groupBy)) {
    return { keep: false, reason: 'groupBy changed: state is keyed differently' };
  }
  if (shapeDocument(previous) === shapeDocument(next)) {
    return {
      keep: true,
      reason:
        previous.type === 'aggregate'
          ? 'same groupBy, sliding window and aggregated field: window contents carry over'
          : 'same steps, window and skip strategy: partial matches carry over',
    };
  }
  return previous.type === 'aggregate'
    ? { keep: false, reason: 'the aggregated field or value kind changed: stored values no longer apply' }
    : { keep: false, reason: 'steps, within or skip changed: NFA state is reset' };
}
