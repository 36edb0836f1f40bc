import type { FactDefinition } from '../condition/facts';
import cardTesting from '../../../../rules/fraud-card-testing.json';
import deviceManyCards from '../../../../rules/fraud-device-many-cards.json';
import impossibleTravel from '../../../../rules/fraud-impossible-travel.json';
import velocityAmount from '../../../../rules/fraud-velocity-amount.json';
import velocityCount from '../../../../rules/fraud-velocity-count.json';
import circleWithoutSquare from '../../../../rules/shapes-circle-without-square.json';
import squareThenTriangle from '../../../../rules/shapes-square-then-triangle.json';
import { TRAVEL_SPEED_FACT } from './travel-speed-fact';

/** The shapes demo rules from `rules/`, as JSON documents (validate them with `validateRule`). */
export const SHAPES_RULES: readonly unknown[] = [squareThenTriangle, circleWithoutSquare];

/** The fraud rules from `rules/`, as JSON documents. They need {@link EXAMPLE_FACTS}. */
export const FRAUD_RULES: readonly unknown[] = [
  cardTesting,
  velocityCount,
  velocityAmount,
  impossibleTravel,
  deviceManyCards,
];

/** The custom facts the example rules use. */
export const EXAMPLE_FACTS: readonly FactDefinition[] = [TRAVEL_SPEED_FACT];
