import { createRequire } from 'node:module'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { murmur2, partitionForKey } from './murmur2.ts'

// kafkajs's own implementation, to prove the embedded log and a broker agree on partitions.
const require = createRequire(import.meta.url)
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (
  key: string,
) => number

describe('murmur2 partitioning', () => {
  it('matches kafkajs for keys of every tail length and non-ASCII text', () => {
    const keys = ['', 'a', 'ab', 'abc', 'abcd', 'phc_token:user-1', 'phc_x:ünïcødé-✓', 'x'.repeat(401)]
    for (let i = 0; i < 500; i++) keys.push(`phc_${i.toString(36)}:distinct-${i * 7919}`)
    for (const key of keys) expect(murmur2(key), key).toBe(kafkajsMurmur2(key))
  })

  it('matches kafkajs for any text, short or long, one key after another', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 600 }), { minLength: 1 }), (keys) => {
        for (const key of keys) expect(murmur2(key)).toBe(kafkajsMurmur2(key))
      }),
    )
  })

  it('spreads keys over every partition', () => {
    const counts = new Array(4).fill(0)
    for (let i = 0; i < 1000; i++) counts[partitionForKey(`phc_t:user-${i}`, 4)]++
    for (const count of counts) expect(count).toBeGreaterThan(150)
  })
})
