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
  private control: Redis | undefined;
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
      incrementalCheckpoints: config.CEPHEUS_INCREMENTAL_CHECKPOINTS,
      maxIncrementalChain: config.CEPHEUS_MAX_INCREMENTAL_CHAIN,
      sessionTimeoutMs: config.CEPHEUS_SESSION_TIMEOUT_MS,
      maxPendingRecordsPerPartition: config.CEPHEUS_MAX_PENDING_RECORDS,
      createTopics: config.CEPHEUS_CREATE_TOPICS,
      eventPartitions: config.CEPHEUS_EVENT_PARTITIONS,
      replicationFactor: config.CEPHEUS_TOPIC_REPLICATION_FACTOR,
      minInsyncReplicas: config.CEPHEUS_TOPIC_MIN_INSYNC_REPLICAS,
      decoder: { maxBytes: config.CEPHEUS_MAX_EVENT_BYTES },
      logger: this.logger,
      startFromSavepoint: parseSavepointRef(config.CEPHEUS_START_FROM_SAVEPOINT),
    });
    try {
      await this.job.start();
      await this.listenForControl();
      this.started = true;
      this.logger.info({ instanceId: config.CEPHEUS_INSTANCE_ID, jobId: config.CEPHEUS_JOB_ID }, 'engine started');
    } catch (error) {
      this.startError = String(error);
      throw error;
    }
  }

  async onApplicationShutdown(signal?: string): Promise<void> {
    this.logger.info({ signal }, 'stopping: final checkpoint');
    this.control?.disconnect();
    await this.job?.stop();
    this.redis?.disconnect();
    this.logger.info({}, 'stopped');
  }

  /** Takes a savepoint of this instance's partitions (see KafkaRuleJob.savepoint). */
  async savepoint(savepointId: string): Promise<Record<number, string>> {
    if (!this.job) throw new Error('the job has not started');
    return this.job.savepoint(savepointId);
  }

  /**
   * Commands for every instance of the job arrive on the Redis channel `cepheus:<job>:control` as JSON
   * (`{"type":"savepoint","id":"sp-1"}`); each instance writes its answer to the hash `cepheus:<job>:savepoint:<id>`,
   * field = instance id, value = `{"ok":true,"offsets":{...}}` or `{"ok":false,"error":"..."}`.
   */
  private async listenForControl(): Promise<void> {
    const jobId = this.config.CEPHEUS_JOB_ID;
    this.control = new Redis(this.config.REDIS_URL);
    this.control.on('message', (_channel: string, text: string) => {
      let command: { type?: unknown; id?: unknown };
      try {
        command = JSON.parse(text) as { type?: unknown; id?: unknown };
      } catch {
        this.logger.warn({ text }, 'control message is not JSON');
        return;
      }
      if (command.type !== 'savepoint' || typeof command.id !== 'string') {
        this.logger.warn({ command }, 'unknown control command');
        return;
      }
      const id = command.id;
      void this.savepoint(id)
        .then((offsets) => ({ ok: true, offsets }))
        .catch((error: unknown) => ({ ok: false, error: String(error) }))
        .then((answer) =>
          this.redis?.hset(`cepheus:${jobId}:savepoint:${id}`, this.config.CEPHEUS_INSTANCE_ID, JSON.stringify(answer)),
        );
    });
    await this.control.subscribe(`cepheus:${jobId}:control`);
  }

  health(): { status: 'up' | 'starting' | 'down'; detail?: string } {
    if (this.startError) return { status: 'down', detail: this.startError };
    return { status: this.started ? 'up' : 'starting' };
  }

  stats(): KafkaRuleJobStats | undefined {
    return this.job?.stats();
  }
}

/** `sp-1` (this job's savepoint) or `other-job/sp-1`. */
function parseSavepointRef(ref: string | undefined): { savepointId: string; jobId?: string } | undefined {
  if (!ref) return undefined;
  const slash = ref.indexOf('/');
  return slash < 0 ? { savepointId: ref } : { jobId: ref.slice(0, slash), savepointId: ref.slice(slash + 1) };
}
