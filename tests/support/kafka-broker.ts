import { Socket } from 'node:net'
import { serviceAvailable } from './services.ts'

/** The broker tests use: SLUICE_TEST_KAFKA, else the one `npm run kafka -- --daemon` starts on 127.0.0.1:19092. */
export const kafkaBootstrap =
  process.env.SLUICE_TEST_KAFKA ?? `127.0.0.1:${process.env.SLUICE_KAFKA_PORT ?? 19092}`

/** Whether Kafka tests run: skipped with a message on a laptop without a broker, a failure in CI. */
export async function kafkaAvailable(): Promise<boolean> {
  const [host = '127.0.0.1', port = '19092'] = kafkaBootstrap.split(',')[0]!.split(':')
  const reachable = await new Promise<boolean>((resolve) => {
    const socket = new Socket()
    socket.setTimeout(2000)
    socket.once('connect', () => resolve(true))
    socket.once('timeout', () => resolve(false))
    socket.once('error', () => resolve(false))
    socket.connect(Number(port), host)
  }).finally(() => undefined)
  return serviceAvailable(
    'Kafka',
    reachable,
    `nothing answers on ${kafkaBootstrap}; start one with \`npm run kafka -- --daemon\``,
  )
}
