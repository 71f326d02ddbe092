import { Command, CommanderError } from 'commander'
import { clickhouseDdl } from '../clickhouse/ddl.ts'
import {
  ConfigError,
  type ConfigInput,
  defaults,
  environment,
  resolveConfig,
  type SluiceConfig,
} from '../runtime/config.ts'
import { createLogger } from '../runtime/logger.ts'
import { runDlqList, runDlqReplay } from './dlq-command.ts'
import { explainFailure, failureText } from './failures.ts'
import { runInit, runKeysCreate, runProjectsCreate } from './projects-commands.ts'
import { runReplay } from './replay-command.ts'
import { runStart } from './start-command.ts'
import { runStatus } from './status-command.ts'
import { runVerify } from './verify-command.ts'

const postgresExample = 'postgres://postgres@127.0.0.1:5432/sluice'

const program = new Command()
  .name('sluice')
  .description('PostHog-compatible event ingestion: capture, persons, groups and ClickHouse projections.')
  // commander's own usage errors (an unknown option, a missing value) exit 2, as ConfigError does
  .exitOverride()
  .showHelpAfterError('(add --help for the options and examples)')
  .addHelpText(
    'after',
    examples([
      ['npx sluice start', 'everything embedded in ./.sluice, on http://127.0.0.1:8000'],
      [`npx sluice init --postgres ${postgresExample}`, 'creates the database, its schema and a project'],
      [`npx sluice start --kafka 127.0.0.1:19092 --postgres ${postgresExample}`, 'on Kafka and PostgreSQL'],
      ['npx sluice status', 'lag and failures of the sluice running here'],
      ['npx sluice start --help', 'every command has its own help'],
    ]),
  )

function examples(lines: [command: string, what: string][]): string {
  const example = ([command, what]: [string, string]) => `${what === '' ? '' : `  # ${what}\n`}  $ ${command}`
  return `\nExamples:\n${lines.map(example).join('\n')}\n`
}

/** An option's help: what it sets, its default and its environment variable — both from config.ts. */
const help = (text: string, key: keyof typeof environment, fallback: string | number) =>
  `${text} (default: ${fallback}; env ${environment[key]})`

const serviceOptions = (command: Command) =>
  command
    .option(
      '--data-dir <dir>',
      help('where the embedded backends keep their data', 'dataDir', `./${defaults.dataDir}`),
    )
    .option(
      '--kafka <brokers>',
      help('Kafka bootstrap servers host:port[,host:port]', 'kafka', 'the embedded log'),
    )
    .option(
      '--kafka-prefix <prefix>',
      help('prefix of Kafka topics and consumer groups', 'kafkaPrefix', 'none'),
    )
    .option('--postgres <url>', help('PostgreSQL URL', 'postgres', 'PGlite in the data dir'))
    .option('--clickhouse <url>', help('ClickHouse HTTP URL', 'clickhouse', 'chDB in the data dir'))
    .option(
      '--wait <seconds>',
      help(
        'how long to wait for a PostgreSQL, Kafka or ClickHouse server that is away',
        'wait',
        `${defaults.waitSeconds.start} for start, ${defaults.waitSeconds.otherCommands} for the others`,
      ),
    )
    .option(
      '--log-format <format>',
      help('auto, pretty or json; auto is pretty on a terminal', 'logFormat', 'auto'),
    )

/**
 * A command's action: the configuration resolved, the work done, and any failure told in one or two
 * lines with what to do (adapters/cli/failures.ts) and a non-zero exit; the stack trace only with
 * SLUICE_LOG_LEVEL=debug.
 */
function action<Options extends object = object>(
  command: string,
  work: (config: SluiceConfig, options: Options) => Promise<void>,
) {
  return async (options: ConfigInput & Options) => {
    let config: SluiceConfig | null = null
    try {
      config = resolveConfig(options, process.env, command === 'sluice start' ? 'start' : 'other')
      await work(config, options)
    } catch (error) {
      const failure = explainFailure(error, { command, config })
      const level = config?.logLevel ?? process.env.SLUICE_LOG_LEVEL
      process.stderr.write(failureText(failure, error, level === 'debug' || level === 'trace'))
      process.exit(failure.exitCode)
    }
  }
}

serviceOptions(program.command('start').description('run the pipeline (embedded by default)'))
  .option('--port <port>', help('HTTP port; 0 picks a free one', 'port', defaults.port))
  .option('--host <host>', help('HTTP host; 0.0.0.0 listens on every interface', 'host', defaults.host))
  .option('--roles <roles>', help('capture,ingest,project,api or all', 'roles', defaults.roles))
  .option(
    '--partitions <n>',
    help('partitions of the command topic when it is created', 'partitions', defaults.partitions),
  )
  .addHelpText(
    'after',
    examples([
      ['npx sluice start', 'embedded; prints the URL, and on a fresh data dir the token and key'],
      ['npx sluice start --port 9000 --data-dir /var/lib/sluice', ''],
      [
        `npx sluice start --roles ingest --kafka 127.0.0.1:19092 --postgres ${postgresExample} --port 8001`,
        '',
      ],
    ]),
  )
  .action(action('sluice start', (config) => runStart(config, createLogger(config))))

serviceOptions(
  program
    .command('init')
    .description(
      'create the data dir (or the PostgreSQL database), the schema and a first project if missing',
    ),
)
  .option('--json', 'print the credentials as JSON')
  .addHelpText(
    'after',
    examples([
      ['npx sluice init --json', '{"project_id":1,"project_token":"phc_…","personal_api_key":"phx_…"}'],
      [`npx sluice init --postgres ${postgresExample}`, 'creates the database when the user may'],
    ]),
  )
  .action(
    action('sluice init', (config, options: { json?: boolean }) => runInit(config, Boolean(options.json))),
  )

const projects = program
  .command('projects')
  .description('manage projects')
  .addHelpText('after', examples([['npx sluice projects create --name Shop', '']]))
serviceOptions(projects.command('create').description('create a project'))
  .requiredOption('--name <name>', 'project name')
  .option('--json', 'print the credentials as JSON')
  .addHelpText(
    'after',
    examples([['npx sluice projects create --name Shop --json', 'its own token and key']]),
  )
  .action(
    action('sluice projects create', (config, options: { name: string; json?: boolean }) =>
      runProjectsCreate(config, options.name, Boolean(options.json)),
    ),
  )

const keys = program
  .command('keys')
  .description('personal API keys')
  .addHelpText('after', examples([['npx sluice keys create', 'a key for the first project']]))
serviceOptions(
  keys
    .command('create')
    .description('make a personal API key for a project; it is shown once, sluice keeps only its digest'),
)
  .option('--project <id>', 'the project the key reads and administers (default: the first)')
  .option('--json', 'print {"project_id","personal_api_key"}')
  .addHelpText('after', examples([['npx sluice keys create --project 2', 'works while sluice runs, too']]))
  .action(
    action('sluice keys create', (config, options: { project?: string; json?: boolean }) => {
      const projectId = options.project === undefined ? null : Number(options.project)
      if (projectId !== null && !(Number.isSafeInteger(projectId) && projectId > 0))
        throw new ConfigError(`--project takes a project id (a whole number), not "${options.project}"`)
      return runKeysCreate(config, projectId, Boolean(options.json))
    }),
  )

serviceOptions(
  program
    .command('verify')
    .description('compare the ClickHouse projections with Postgres; exit 0 only when they agree'),
)
  .option('--json', 'print the report as JSON')
  .addHelpText('after', examples([['npx sluice verify', 'stop sluice first: verify opens the data dir']]))
  .action(
    action('sluice verify', (config, options: { json?: boolean }) =>
      runVerify(config, Boolean(options.json)),
    ),
  )

program
  .command('clickhouse')
  .description('ClickHouse tools')
  .addHelpText('after', examples([['npx sluice clickhouse ddl --cluster main', '']]))
  .command('ddl')
  .description('print the ClickHouse DDL for a server, a cluster, or Kafka engine ingestion')
  .option(
    '--cluster <name>',
    'replicated person tables on every node, events sharded behind a Distributed table',
  )
  .option('--kafka-engine <brokers>', 'Kafka engine tables and materialized views reading the fact topics')
  .addHelpText(
    'after',
    examples([
      ['npx sluice clickhouse ddl | clickhouse-client --multiquery', 'one server'],
      [
        'npx sluice clickhouse ddl --cluster main --kafka-engine kafka:9092',
        'a cluster reading the fact topics',
      ],
    ]),
  )
  .action((options: { cluster?: string; kafkaEngine?: string }) => {
    process.stdout.write(clickhouseDdl({ cluster: options.cluster, kafkaBrokers: options.kafkaEngine }))
  })

serviceOptions(program.command('replay').description('rebuild the projections from the retained command log'))
  .option('--from-offset <n>', 'start every partition of the command log at this offset (default: 0)')
  .option('--projections <list>', 'postgres,clickhouse or one of them (default: both)')
  .addHelpText(
    'after',
    examples([
      ['npx sluice replay', 'stop sluice first; a progress bar on a terminal, a summary line at the end'],
      ['npx sluice replay --projections clickhouse', 'ClickHouse alone, from the retained fact topics'],
    ]),
  )
  .action(
    action('sluice replay', async (config, options: { fromOffset?: string; projections?: string }) => {
      const projections = new Set(
        (options.projections ?? 'postgres,clickhouse').split(',').map((p) => p.trim()),
      )
      const unknown = [...projections].filter((p) => p !== 'postgres' && p !== 'clickhouse')
      if (unknown.length > 0)
        throw new ConfigError(`--projections takes postgres and/or clickhouse, not "${options.projections}"`)
      const fromOffset = Number(options.fromOffset ?? 0)
      if (!Number.isSafeInteger(fromOffset) || fromOffset < 0)
        throw new ConfigError(`--from-offset takes an offset (a whole number), not "${options.fromOffset}"`)
      await runReplay(config, { fromOffset, projections: projections as Set<'postgres' | 'clickhouse'> })
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
  .addHelpText('after', examples([['npx sluice status', 'asks the running sluice, or reads the backends']]))
  .action(
    action('sluice status', (config, options: { json?: boolean }) =>
      runStatus(config, Boolean(options.json)),
    ),
  )

const dlq = program
  .command('dlq')
  .description('the dead letter queue: what could not be processed, and why')
  .addHelpText(
    'after',
    examples([
      ['npx sluice dlq list', ''],
      ['npx sluice dlq replay --id events_plugin_ingestion:0:17', ''],
    ]),
  )
serviceOptions(dlq.command('list').description('show every dead letter with its reason'))
  .option('--json', 'print the letters as JSON')
  .addHelpText('after', examples([['npx sluice dlq list --json', 'works while sluice runs, too']]))
  .action(
    action('sluice dlq list', (config, options: { json?: boolean }) =>
      runDlqList(config, Boolean(options.json)),
    ),
  )
serviceOptions(
  dlq
    .command('replay')
    .description('append dead letters to their topics again (all not yet replayed, or --id)'),
)
  .option('--id <id...>', 'replay only these letters (even if replayed before)')
  .addHelpText(
    'after',
    examples([
      ['npx sluice dlq replay', 'every letter not replayed yet'],
      ['npx sluice dlq replay --id events_plugin_ingestion:0:17', 'this one, even if replayed before'],
    ]),
  )
  .action(
    action('sluice dlq replay', (config, options: { id?: string[] }) => runDlqReplay(config, options.id)),
  )

try {
  await program.parseAsync(process.argv)
} catch (error) {
  if (!(error instanceof CommanderError)) throw error
  process.exit(error.exitCode === 0 ? 0 : 2)
}
