import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import Redis from 'ioredis';
import { topicConfigs } from '@cepheus/kafka';
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

  /**
   * Creates a topic the API uses when it is missing (a fresh deployment where no engine ran yet), with the settings the
   * engines create it with (`topicConfigs` of `@cepheus/kafka`) and the configured replication.
   */
  async ensureTopic(kind: 'rules' | 'alerts' | 'rulesStatus'): Promise<void> {
    const names = {
      rules: this.config.CEPHEUS_RULES_TOPIC,
      alerts: this.config.CEPHEUS_ALERTS_TOPIC,
      rulesStatus: this.config.CEPHEUS_RULES_STATUS_TOPIC,
    };
    const wanted = topicConfigs({
      names,
      replicationFactor: this.config.CEPHEUS_TOPIC_REPLICATION_FACTOR,
      minInsyncReplicas: this.config.CEPHEUS_TOPIC_MIN_INSYNC_REPLICAS,
    }).find((t) => t.topic === names[kind]);
    if (!wanted || (await this.admin.listTopics()).includes(wanted.topic)) return;
    try {
      await this.admin.createTopics({ topics: [wanted], waitForLeaders: true });
    } catch (error) {
      // kafkajs retries only LEADER_NOT_AVAILABLE while it waits for leaders; a KRaft broker may not know a topic its
      // controller just created for a moment yet (UNKNOWN_TOPIC_OR_PARTITION). Created is created: wait for it.
      if (
        (error as { type?: string }).type === 'UNKNOWN_TOPIC_OR_PARTITION' &&
        (await this.awaitLeaders(wanted.topic))
      ) {
        return;
      }
      const reasons = (error as { errors?: Array<{ type?: string }> }).errors?.map((e) => e.type).join(', ');
      throw new Error(
        `creating topic ${wanted.topic} failed (${reasons ?? String(error)}): check CEPHEUS_TOPIC_REPLICATION_FACTOR ` +
          `(${this.config.CEPHEUS_TOPIC_REPLICATION_FACTOR ?? "the broker's default"}) and CEPHEUS_TOPIC_MIN_INSYNC_REPLICAS ` +
          `(${this.config.CEPHEUS_TOPIC_MIN_INSYNC_REPLICAS ?? "the broker's default"}) against the brokers`,
        { cause: error },
      );
    }
  }

  /** Polls the topic's metadata until every partition has a leader; false when it does not within 30 s. */
  private async awaitLeaders(topic: string): Promise<boolean> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      try {
        const metadata = await this.admin.fetchTopicMetadata({ topics: [topic] });
        const partitions = metadata.topics[0]?.partitions ?? [];
        if (partitions.length > 0 && partitions.every((p) => p.leader >= 0)) return true;
      } catch {
        // Not known yet.
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return false;
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
