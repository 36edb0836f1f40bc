import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** The API's Prometheus metrics. */
export class ApiMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly replays: Gauge<'state'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'cepheus_api_process_' });
    this.requests = new Counter({
      name: 'cepheus_api_requests_total',
      help: 'HTTP requests by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers: [this.registry],
    });
    this.replays = new Gauge({
      name: 'cepheus_api_replays',
      help: 'Replay jobs by BullMQ state',
      labelNames: ['state'],
      registers: [this.registry],
    });
  }
}
