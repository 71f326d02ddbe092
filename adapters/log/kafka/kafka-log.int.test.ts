import { logContract } from '../../../tests/contracts/log.contract.ts'
import { kafkaAvailable, kafkaBootstrap } from '../../../tests/support/kafka-broker.ts'
import { createKafkaLog } from './kafka-log.ts'

const available = await kafkaAvailable()

logContract('Apache Kafka (kafkajs)', async () => {
  if (!available) return null
  const log = createKafkaLog({
    brokers: kafkaBootstrap.split(','),
    clientId: 'sluice-contract',
    prefix: 'contract_',
  })
  return { log, reopen: null, close: () => log.close() }
})
