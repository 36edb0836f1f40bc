#!/usr/bin/env node
import { Command } from 'commander';
import { alertsCommand } from './commands/alerts-commands';
import { demoCommand, runCommand } from './commands/local-commands';
import { replayCommand, savepointCommand } from './commands/replay-commands';
import { rulesCommand } from './commands/rules-commands';

/** `cepheus`: manage rules on Kafka, tail alerts, and run rules locally over files. */
const program = new Command('cepheus')
  .description('Cepheus: complex-event processing and fraud rules for Kafka')
  .version('0.1.0')
  .addCommand(rulesCommand())
  .addCommand(alertsCommand())
  .addCommand(runCommand())
  .addCommand(demoCommand())
  .addCommand(replayCommand())
  .addCommand(savepointCommand());

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`cepheus: ${(error as Error).message}\n`);
  process.exit(1);
});
