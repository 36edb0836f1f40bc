// Public surface of @cepheus/rules. Nothing outside this library imports its other files.
export type {
  AggregateComparison,
  AggregateFunction,
  AggregateRule,
  AlertSpec,
  AllCondition,
  AnyCondition,
  ConditionNode,
  Contiguity,
  Duration,
  FactReference,
  JsonValue,
  LeafCondition,
  NotCondition,
  Rule,
  RuleStatus,
  SequenceRule,
  SequenceStep,
  Severity,
  SkipStrategy,
  TimeoutAlertSpec,
  TimesSpec,
  TopLevelCondition,
} from './model/rule';
export { durationMs, formatDuration } from './model/duration';
export { RULE_SCHEMA, RULE_SCHEMA_ID } from './schema/rule-schema';
export { parseRule, validateRule } from './schema/validate-rule';
export type { RuleRegistries, RuleValidationError, RuleValidationResult } from './schema/validate-rule';
export { OperatorRegistry, BUILT_IN_OPERATORS, BUILT_IN_DECORATORS } from './condition/operators';
export type { OperatorDefinition, OperatorDecoratorDefinition, OperatorFn } from './condition/operators';
export { EXTRA_OPERATORS } from './condition/extra-operators';
export { FactRegistry, BUILT_IN_FACTS, STEP_AGGREGATIONS } from './condition/facts';
export type { FactDefinition, FactInput, RuleEvent, StepContext, StepAggregation } from './condition/facts';
export { compileCondition } from './condition/compile-condition';
export type {
  CompiledCondition,
  ConditionFn,
  ConditionTrace,
  ConditionCompileOptions,
} from './condition/compile-condition';
export { parsePath } from './condition/json-path';
export { compileRule } from './compile/compile-rule';
export type {
  CompiledAggregateRule,
  CompiledRule,
  CompiledSequenceRule,
  RuleCompileOptions,
  RuleStats,
} from './compile/compile-rule';
export { canKeepState, stateShapeOf } from './compile/state-compatibility';
export type { StateCompatibility } from './compile/state-compatibility';
export type { RuleGuard } from './compile/rule-guard';
export { RuleSet, routeEvent } from './route/rule-set';
export { RoutedKeyMap } from './route/routed-key-map';
export type { RoutedKeyRef } from './route/routed-key-map';
export type { RoutedKey } from './route/rule-set';
export { RuleEvaluator, AGGREGATES_ENTRY } from './evaluator/rule-evaluator';
export { keyDisplay } from './alert/rule-alerts';
export type {
  AddedDeadline,
  KeyState,
  RuleState,
  SequenceState,
  RuleEvaluatorOptions,
} from './evaluator/rule-evaluator';
export { createAggregateState } from './aggregate/sliding-window';
export type { AggregateState, WindowValue } from './aggregate/sliding-window';
export type { SharedWindow } from './aggregate/shared-window';
export { alertIdOf } from './alert/alert';
export type { Alert, AlertEvent, AlertExplanation, StepExplanation } from './alert/alert';
export { compileTemplate, TEMPLATE_VARIABLES } from './alert/template';
export type { CompiledTemplate } from './alert/template';
export { EXAMPLE_FACTS, FRAUD_RULES, SHAPES_RULES } from './examples/example-rules';
export { generateFraud } from './examples/fraud-generator';
export type { FraudOptions } from './examples/fraud-generator';
export { generateShapes } from './examples/shapes-generator';
export type { ShapesOptions } from './examples/shapes-generator';
export type { ExampleEvent, ExampleStream, ExpectedAlert } from './examples/example-stream';
export { COUNTRY_CENTROIDS, countryDistanceKm, TRAVEL_SPEED_FACT } from './examples/travel-speed-fact';
export { seededRandom } from './examples/prng';
