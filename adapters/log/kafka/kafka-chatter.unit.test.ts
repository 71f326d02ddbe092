import { logLevel } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { kafkaLogLevel } from './kafka-chatter.ts'

// Messages as kafkajs 2.2 logs them (node_modules/kafkajs/src: network/connection.js,
// consumer/runner.js, consumer/index.js, cluster/brokerPool.js, consumer/consumerGroup.js …).
const entry = (level: logLevel, message: string) => ({ level, log: { message, timestamp: '' } })

describe('kafkajs log entries', () => {
  it('are debug when they are the routine of a consumer group or a retry sluice reports itself', () => {
    for (const message of [
      'Response Heartbeat(key: 12, version: 3)',
      'The group is rebalancing, re-joining',
      'The coordinator is not aware of this member, re-joining the group',
      'Response GroupCoordinator(key: 10, version: 2)',
      'Connection error: connect ECONNREFUSED 127.0.0.1:19092',
      'Failed to connect to seed broker, trying another broker from the list: Connection error',
      'Crash: KafkaJSNumberOfRetriesExceeded: Connection error: connect ECONNREFUSED 127.0.0.1:19092',
      'Restarting the consumer in 1000ms',
      'Failed to send messages: Connection error',
      'Consumer group received unsubscribed topics',
      'Error when calling eachBatch',
      'Limiting retries for the idempotent producer may invalidate EoS guarantees',
      'Response without match',
    ]) {
      expect([message, kafkaLogLevel(entry(logLevel.ERROR, message))]).toEqual([message, 'debug'])
      expect([message, kafkaLogLevel(entry(logLevel.WARN, message))]).toEqual([message, 'debug'])
    }
  })

  it('are warnings when they mean something is wrong that nothing else reports', () => {
    for (const message of [
      'Offset out of range, resetting to default offset',
      'SASL PLAIN authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism PLAIN',
      'Failed to execute listener: boom',
    ])
      expect([message, kafkaLogLevel(entry(logLevel.ERROR, message))]).toEqual([message, 'warn'])
  })

  it('are debug below warning whatever they say', () => {
    expect(kafkaLogLevel(entry(logLevel.INFO, 'Offset out of range'))).toBe('debug')
  })
})
