import { ConfigResourceTypes } from 'kafkajs';
import { uniqueName } from '../support/services';
import { apiTopicEnv, kafka, testTopics } from '../support/topics';
import { startApi } from './api-process';

describe('topics the API creates: replication settings, defaulting to the broker', () => {
  it('creates missing topics with the configured min.insync.replicas and the broker default replication factor', async () => {
    const topics = testTopics('topicset');
    const api = await startApi({
      ...apiTopicEnv(topics),
      CEPHEUS_API_REDIS_PREFIX: uniqueName('topicset'),
      CEPHEUS_TOPIC_MIN_INSYNC_REPLICAS: '2',
    });
    const admin = kafka.admin();
    await admin.connect();
    try {
      for (const topic of [topics.rules, topics.alerts, topics.rulesStatus]) {
        const described = await admin.describeConfigs({
          resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['min.insync.replicas'] }],
          includeSynonyms: false,
        });
        expect(described.resources[0].configEntries).toEqual([
          expect.objectContaining({ configName: 'min.insync.replicas', configValue: '2' }),
        ]);
      }
      // The rules topic keeps its own settings next to the replication ones.
      const rules = await admin.describeConfigs({
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topics.rules, configNames: ['cleanup.policy'] }],
        includeSynonyms: false,
      });
      expect(rules.resources[0].configEntries[0].configValue).toBe('compact');
      // No replication factor set: the broker's default (1 on the test broker) applies.
      const metadata = await admin.fetchTopicMetadata({ topics: [topics.alerts] });
      expect(metadata.topics[0].partitions.map((p) => p.replicas.length)).toEqual([1, 1, 1, 1]);
    } finally {
      await admin.disconnect();
      await api.stop();
    }
  }, 120_000);

  it('does not start when the replication factor cannot be met, naming the setting', async () => {
    const topics = testTopics('topicset');
    const start = startApi({
      ...apiTopicEnv(topics),
      CEPHEUS_API_REDIS_PREFIX: uniqueName('topicset'),
      CEPHEUS_TOPIC_REPLICATION_FACTOR: '3',
    });
    await expect(start).rejects.toThrow(/INVALID_REPLICATION_FACTOR\): check CEPHEUS_TOPIC_REPLICATION_FACTOR \(3\)/);
  }, 120_000);
});
