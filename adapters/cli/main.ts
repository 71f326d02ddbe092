import { Command, Option } from 'commander'
import { UnknownDeadLetterError } from '../../commands/dlq/dead-letters.ts'
import { clickhouseDdl } from '../clickhouse/ddl.ts'
import { ConfigError, type ConfigInput, resolveConfig } from '../runtime/config.ts'
import { DataDirLockedError } from '../runtime/data-dir-lock.ts'
import { createLogger } from '../runtime/logger.ts'
import { UnknownProjectError } from '../runtime/projects.ts'
import { runDlqList, runDlqReplay } from './dlq-command.ts'
import { runInit, runKeysCreate, runProjectsCreate } from './projects-commands.ts'
import { runReplay } from './replay-command.ts'
import { RunningSluiceError } from './running-sluice.ts'
import { runStart } from './start-command.ts'
import { runStatus } from './status-command.ts'
import { runVerify } from './verify-command.ts'

const program = new Command()
  .name('sluice')
  .description('PostHog-compatible event ingestion: capture, persons, groups and ClickHouse projections.')
  .showHelpAfterError()

const serviceOptions = (command: Command) =>
  command
    .option('--data-dir <dir>', 'where the embedded backends keep their data', undefined)
    .addOption(
      new Option('--kafka <brokers>', 'Kafka bootstrap servers host:port[,host:port]').env(
        'SLUICE_KAFKA_BROKERS',
      ),
    )
    .addOption(
      new Option('--kafka-prefix <prefix>', 'prefix of Kafka topics and consumer groups').env(
        'SLUICE_KAFKA_PREFIX',
      ),
    )
    .addOption(new Option('--postgres <url>', 'PostgreSQL URL').env('SLUICE_DATABASE_URL'))
    .addOption(new Option('--clickhouse <url>', 'ClickHouse HTTP URL').env('SLUICE_CLICKHOUSE_URL'))

serviceOptions(program.command('start').description('run the pipeline (embedded by default)'))
  .option('--port <port>', 'HTTP port', '8000')
  .option('--host <host>', 'HTTP host', '127.0.0.1')
  .option('--roles <roles>', 'capture,ingest,project,api or all', 'all')
  .option('--partitions <n>', 'partitions of the command topic when it is created')
  .action((options: ConfigInput) => run(() => runStart(resolveConfig(options), createLogger())))

serviceOptions(
  program.command('init').description('create the data dir, schema and a default project if missing'),
)
  .option('--json', 'print the credentials as JSON')
  .action((options: ConfigInput & { json?: boolean }) =>
    run(() => runInit(resolveConfig(options), Boolean(options.json))),
  )

serviceOptions(
  program
    .command('projects')
    .description('manage projects')
    .command('create')
    .description('create a project'),
)
  .requiredOption('--name <name>', 'project name')
  .option('--json', 'print the credentials as JSON')
  .action((options: ConfigInput & { name: string; json?: boolean }) =>
    run(() => runProjectsCreate(resolveConfig(options), options.name, Boolean(options.json))),
  )

serviceOptions(
  program
    .command('keys')
    .description('personal API keys')
    .command('create')
    .description('make a personal API key for a project; it is shown once, sluice keeps only its digest'),
)
  .option('--project <id>', 'the project the key reads and administers (default: the first)')
  .option('--json', 'print {"project_id","personal_api_key"}')
  .action((options: ConfigInput & { project?: string; json?: boolean }) =>
    run(() => {
      const projectId = options.project === undefined ? null : Number(options.project)
      if (projectId !== null && !(Number.isSafeInteger(projectId) && projectId > 0))
        throw new ConfigError(`--project takes a project id (a whole number), not "${options.project}"`)
      return runKeysCreate(resolveConfig(options), projectId, Boolean(options.json))
    }),
  )

serviceOptions(
  program
    .command('verify')
    .description('compare the ClickHouse projections with Postgres; exit 0 only when they agree'),
)
  .option('--json', 'print the report as JSON')
  .action((options: ConfigInput & { json?: boolean }) =>
    run(() => runVerify(resolveConfig(options), Boolean(options.json))),
  )

program
  .command('clickhouse')
  .description('ClickHouse tools')
  .command('ddl')
  .description('print the ClickHouse DDL for a server, a cluster, or Kafka engine ingestion')
  .option(
    '--cluster <name>',
    'replicated person tables on every node, events sharded behind a Distributed table',
  )
  .option('--kafka-engine <brokers>', 'Kafka engine tables and materialized views reading the fact topics')
  .action((options: { cluster?: string; kafkaEngine?: string }) => {
    process.stdout.write(clickhouseDdl({ cluster: options.cluster, kafkaBrokers: options.kafkaEngine }))
  })

serviceOptions(program.command('replay').description('rebuild the projections from the retained command log'))
  .option('--from-offset <n>', 'start every partition of the command log at this offset', '0')
  .option('--projections <list>', 'postgres,clickhouse or one of them', 'postgres,clickhouse')
  .action((options: ConfigInput & { fromOffset: string; projections: string }) =>
    run(async () => {
      const projections = new Set(options.projections.split(',').map((p) => p.trim()))
      const unknown = [...projections].filter((p) => p !== 'postgres' && p !== 'clickhouse')
      const fromOffset = Number(options.fromOffset)
      if (unknown.length > 0 || !Number.isInteger(fromOffset) || fromOffset < 0) {
        throw new ConfigError('--projections takes postgres and/or clickhouse; --from-offset a whole number')
      }
      await runReplay(resolveConfig(options), {
        fromOffset,
        projections: projections as Set<'postgres' | 'clickhouse'>,
      })
    }),
  )

serviceOptions(
  program
    .command('status')
    .description(
      'lag, failures and dead letters per consumer group, topic and partition; exit 1 when a partition is stuck',
    ),
)
  .option('--json', 'print the status as JSON')
  .action((options: ConfigInput & { json?: boolean }) =>
    run(() => runStatus(resolveConfig(options), Boolean(options.json))),
  )

const dlq = program.command('dlq').description('the dead letter queue: what could not be processed, and why')
serviceOptions(dlq.command('list').description('show every dead letter with its reason'))
  .option('--json', 'print the letters as JSON')
  .action((options: ConfigInput & { json?: boolean }) =>
    run(() => runDlqList(resolveConfig(options), Boolean(options.json))),
  )
serviceOptions(
  dlq
    .command('replay')
    .description('append dead letters to their topics again (all not yet replayed, or --id)'),
)
  .option('--id <id...>', 'replay only these letters (even if replayed before)')
  .action((options: ConfigInput & { id?: string[] }) =>
    run(() => runDlqReplay(resolveConfig(options), options.id)),
  )

async function run(action: () => Promise<void>): Promise<void> {
  try {
    await action()
  } catch (error) {
    if (
      error instanceof ConfigError ||
      error instanceof DataDirLockedError ||
      error instanceof RunningSluiceError ||
      error instanceof UnknownDeadLetterError ||
      error instanceof UnknownProjectError
    ) {
      console.error(`sluice: ${error.message}`)
      process.exit(2)
    }
    console.error('sluice: failed:', error instanceof Error ? (error.stack ?? error.message) : error)
    process.exit(1)
  }
}

await program.parseAsync(process.argv)
