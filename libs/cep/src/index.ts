// Public surface of @cepheus/cep. Nothing outside this library imports its other files.
export { AfterMatchSkipStrategy } from './after-match/after-match-skip-strategy';
export type { AfterMatchSkipKind } from './after-match/after-match-skip-strategy';
export { compilePattern } from './compiler/compile-pattern';
export type { CompilePatternOptions } from './compiler/compile-pattern';
export type { CompiledEdge, CompiledPattern, CompiledStep } from './compiler/compiled-pattern';
export { NFA } from './nfa/nfa';
export type { Match, NfaOptions, NfaResult, NfaStats, TimedOutMatch } from './nfa/nfa';
export { NFA_GROUP_SNAPSHOT_VERSION, NfaGroup } from './nfa/nfa-group';
export type {
  NfaGroupResult,
  NfaGroupSnapshot,
  NfaGroupState,
  PatternMatch,
  PatternTimedOutMatch,
} from './nfa/nfa-group';
export { NFA_SNAPSHOT_VERSION } from './nfa/nfa-state';
export type { NfaSnapshot, NfaState } from './nfa/nfa-state';
export { CONTIGUITY_CODE } from './pattern/condition';
export type { Condition, ConditionContext, Contiguity } from './pattern/condition';
export { Pattern } from './pattern/pattern';
export type { PatternElement, PatternElementKind, QuantifierSpec, WithinType } from './pattern/pattern';
