import { runServiceScript } from './services';

export default async function globalTeardown(): Promise<void> {
  if (process.env.CEPHEUS_TEST_STARTED_KAFKA === '1' && process.env.CEPHEUS_KEEP_KAFKA !== '1') {
    runServiceScript('kafka.mjs', 'stop');
  }
}
