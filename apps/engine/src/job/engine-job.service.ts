import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { KafkaRuleJob, type KafkaRuleJobStats } from '@cepheus/kafka';
import { RedisCheckpointStorage } from '@cepheus/redis';
import Redis from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import type { Logger } from 'pino';
import { ENGINE_CONFIG, ENGINE_LOGGER } from '../tokens';
import type { EngineConfig } from '../config/engine-config';
import { RulesPartitionProcessor } from '@cepheus/job';

/** Owns the running job: starts it with the application, stops it (final checkpoint) on SIGTERM. */
@Injectable()
export class EngineJobService implements OnModuleInit, OnApplicationShutdown {
  readonly processor = new RulesPartitionProcessor();
  private job: KafkaRuleJob<ReturnType<RulesPartitionProcessor['createPartitionState']>> | undefined;
  private redis: Redis | undefined;
  private started = false;
  private startError: string | undefined;

  constructor(
    @Inject(ENGINE_CONFIG) private readonly config: EngineConfig,
    @Inject(ENGINE_LOGGER) private readonly logger: Logger,
  ) {}

  async onModuleInit(): Promise<void> {
    const config = this.config;
    this.redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 3, enableOfflineQueue: true });
    const kafka = new Kafka({
      clientId: `cepheus-engine-${config.CEPHEUS_INSTANCE_ID}`,
      brokers: config.KAFKA_BROKERS.split(','),
      logLevel: logLevel.NOTHING,
      retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 5000 },
    });
    this.job = new KafkaRuleJob({
      kafka,
      jobId: config.CEPHEUS_JOB_ID,
      instanceId: config.CEPHEUS_INSTANCE_ID,
      processor: this.processor,
      storage: new RedisCheckpointStorage(this.redis, { keyPrefix: 'cepheus' }),
      topics: {
        events: config.CEPHEUS_EVENTS_TOPIC,
        rules: config.CEPHEUS_RULES_TOPIC,
        alerts: config.CEPHEUS_ALERTS_TOPIC,
        rulesStatus: config.CEPHEUS_RULES_STATUS_TOPIC,
        eventsDlq: config.CEPHEUS_DLQ_TOPIC,
      },
      guarantee: config.CEPHEUS_GUARANTEE,
      checkpointIntervalMs: config.CEPHEUS_CHECKPOINT_INTERVAL_MS,
      outOfOrdernessMs: config.CEPHEUS_OUT_OF_ORDERNESS_MS,
      retainedCheckpoints: config.CEPHEUS_RETAINED_CHECKPOINTS,
      sessionTimeoutMs: config.CEPHEUS_SESSION_TIMEOUT_MS,
      maxPendingRecordsPerPartition: config.CEPHEUS_MAX_PENDING_RECORDS,
      createTopics: config.CEPHEUS_CREATE_TOPICS,
      eventPartitions: config.CEPHEUS_EVENT_PARTITIONS,
      decoder: { maxBytes: config.CEPHEUS_MAX_EVENT_BYTES },
      logger: this.logger,
    });
    try {
      await this.job.start();
      this.started = true;
      this.logger.info({ instanceId: config.CEPHEUS_INSTANCE_ID, jobId: config.CEPHEUS_JOB_ID }, 'engine started');
    } catch (error) {
      this.startError = String(error);
      throw error;
    }
  }

  async onApplicationShutdown(signal?: string): Promise<void> {
    this.logger.info({ signal }, 'stopping: final checkpoint');
    await this.job?.stop();
    this.redis?.disconnect();
    this.logger.info({}, 'stopped');
  }

  health(): { status: 'up' | 'starting' | 'down'; detail?: string } {
    if (this.startError) return { status: 'down', detail: this.startError };
    return { status: this.started ? 'up' : 'starting' };
  }

  stats(): KafkaRuleJobStats | undefined {
    return this.job?.stats();
  }
}
