import { describe, expect, it } from 'vitest'
import { chooseOverrides, linkedIds, overridesToAdd } from './continuity.ts'

describe('experience continuity hash keys', () => {
  it('after identify, every id of both persons gets the anonymous id for every continuity flag it lacks', () => {
    const ids = linkedIds('user', 'anon', [
      { of: 'user', distinctId: 'user' },
      { of: 'user', distinctId: 'user-email' },
      { of: 'anon', distinctId: 'anon' },
    ])
    const added = overridesToAdd(
      'anon',
      ids,
      ['exp', 'beta'],
      [{ distinctId: 'user', flagKey: 'exp', hashKey: 'older' }],
    )
    expect(added).toEqual([
      { distinctId: 'user', flagKey: 'beta', hashKey: 'anon' },
      { distinctId: 'anon', flagKey: 'exp', hashKey: 'anon' },
      { distinctId: 'anon', flagKey: 'beta', hashKey: 'anon' },
      { distinctId: 'user-email', flagKey: 'exp', hashKey: 'anon' },
      { distinctId: 'user-email', flagKey: 'beta', hashKey: 'anon' },
    ])
  })

  it("a flag keeps the override closest to the request: the id's own, its person's, then the anonymous one's", () => {
    const ids = linkedIds('user', 'anon', [
      { of: 'user', distinctId: 'user-email' },
      { of: 'anon', distinctId: 'anon-other-device' },
    ])
    expect(
      chooseOverrides(ids, [
        { distinctId: 'anon-other-device', flagKey: 'a', hashKey: 'from-anon-person' },
        { distinctId: 'anon', flagKey: 'a', hashKey: 'from-anon' },
        { distinctId: 'user-email', flagKey: 'a', hashKey: 'from-person' },
        { distinctId: 'anon', flagKey: 'b', hashKey: 'from-anon' },
        { distinctId: 'user', flagKey: 'c', hashKey: 'own' },
        { distinctId: 'user-email', flagKey: 'c', hashKey: 'from-person' },
        { distinctId: 'stranger', flagKey: 'd', hashKey: 'never' },
      ]),
    ).toEqual({ a: 'from-person', b: 'from-anon', c: 'own' })
  })
})
