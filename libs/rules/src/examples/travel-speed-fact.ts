import type { FactDefinition } from '../condition/facts';

/** Approximate centroids (latitude, longitude in degrees) of a few countries, by ISO 3166-1 alpha-2 code. */
export const COUNTRY_CENTROIDS: Readonly<Record<string, readonly [number, number]>> = {
  AU: [-25.7, 134.5],
  BR: [-10.8, -52.9],
  CA: [61.4, -98.3],
  CN: [36.6, 103.8],
  DE: [51.1, 10.4],
  ES: [40.2, -3.6],
  FR: [46.6, 2.4],
  GB: [54.1, -2.9],
  IN: [22.9, 79.6],
  IT: [42.8, 12.1],
  JP: [37.5, 138.0],
  MX: [23.9, -102.5],
  NG: [9.6, 8.1],
  NL: [52.2, 5.5],
  RU: [61.9, 96.7],
  SG: [1.35, 103.8],
  US: [39.8, -98.6],
  ZA: [-29.0, 25.1],
};

const EARTH_RADIUS_KM = 6371;

/** Great-circle distance between two countries' centroids (haversine), undefined for an unknown country. */
export function countryDistanceKm(a: string, b: string): number | undefined {
  const p = COUNTRY_CENTROIDS[a];
  const q = COUNTRY_CENTROIDS[b];
  if (p === undefined || q === undefined) return undefined;
  const rad = Math.PI / 180;
  const dLat = (q[0] - p[0]) * rad;
  const dLon = (q[1] - p[1]) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(p[0] * rad) * Math.cos(q[0] * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * `travelSpeedKmh`: the speed (km/h) needed to get from the country of the last event matched by step
 * `params.from` to the current event's country in the time between them. Same country: 0; same instant in two
 * countries: Infinity; unknown country or no earlier event: undefined (so every comparison is false).
 */
export const TRAVEL_SPEED_FACT: FactDefinition = {
  name: 'travelSpeedKmh',
  validateParams: (params) =>
    typeof params.from === 'string' ? undefined : 'needs "from": the name of an earlier step',
  calculate: (params, input) => {
    const earlier = input.stepEvents(String(params.from));
    if (earlier.length === 0) return undefined;
    const prev = earlier[earlier.length - 1];
    const from = prev.event.country;
    const to = input.event.event.country;
    if (typeof from !== 'string' || typeof to !== 'string') return undefined;
    const km = countryDistanceKm(from, to);
    if (km === undefined) return undefined;
    if (km === 0) return 0;
    const hours = Math.abs(input.event.timestamp - prev.timestamp) / 3_600_000;
    return hours === 0 ? Infinity : km / hours;
  },
};
