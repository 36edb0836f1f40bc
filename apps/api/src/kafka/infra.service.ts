import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import Redis from 'ioredis';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import type { ApiConfig } from '../config/api-config';
import { API_CONFIG } from '../tokens';

/** The API's connections: one Kafka client with an admin and a producer, one Redis client. */
@Injectable()
export class InfraService implements OnModuleInit, OnApplicationShutdown {
  readonly kafka: Kafka;
  readonly redis: Redis;
  private adminClient: Admin | undefined;
  private producerClient: Producer | undefined;

  constructor(@Inject(API_CONFIG) private readonly config: ApiConfig) {
    this.kafka = new Kafka({
      clientId: 'cepheus-api',
      brokers: config.KAFKA_BROKERS.split(','),
      logLevel: logLevel.NOTHING,
      retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 5000 },
    });
    this.redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 3, lazyConnect: false });
  }

  async onModuleInit(): Promise<void> {
    this.adminClient = this.kafka.admin();
    await this.adminClient.connect();
    this.producerClient = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await this.producerClient.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.producerClient?.disconnect().catch(() => undefined);
    await this.adminClient?.disconnect().catch(() => undefined);
    this.redis.disconnect();
  }

  /** Creates a topic the API reads when it is missing (a fresh deployment where no engine ran yet). */
  async ensureTopic(topic: string, numPartitions: number): Promise<void> {
    if ((await this.admin.listTopics()).includes(topic)) return;
    await this.admin.createTopics({ topics: [{ topic, numPartitions, replicationFactor: 1 }], waitForLeaders: true });
  }

  get admin(): Admin {
    if (!this.adminClient) throw new Error('Kafka admin is not connected yet');
    return this.adminClient;
  }

  get producer(): Producer {
    if (!this.producerClient) throw new Error('Kafka producer is not connected yet');
    return this.producerClient;
  }

  /** A Redis key under the API's prefix. */
  key(...parts: Array<string | number>): string {
    return [this.config.CEPHEUS_API_REDIS_PREFIX, ...parts].join(':');
  }

  /** A fresh connection for BullMQ, which needs `maxRetriesPerRequest: null` on blocking connections. */
  bullConnection(): Redis {
    return new Redis(this.config.REDIS_URL, { maxRetriesPerRequest: null });
  }
}
