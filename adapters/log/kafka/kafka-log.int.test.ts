import { logContract } from '../../../tests/contracts/log.contract.ts'
import { kafkaAvailable, kafkaBootstrap } from '../../../tests/support/kafka-broker.ts'
import { createKafkaLog } from './kafka-log.ts'

const available = await kafkaAvailable()
const open = () =>
  createKafkaLog({ brokers: kafkaBootstrap.split(','), clientId: 'sluice-contract', prefix: 'contract_' })

logContract('Apache Kafka (kafkajs)', async () => {
  if (!available) return null
  const fixture = {
    log: open(),
    // a new client: what the brokers acknowledged is there for it
    reopen: async () => {
      await fixture.log.close()
      return open()
    },
    close: () => fixture.log.close(),
  }
  return fixture
})
