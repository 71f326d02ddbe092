import { describe, expect, it } from 'vitest'
import { Topics } from '../../schema/topics.ts'
import { replayRanges } from './replay-command.ts'

const batch = (partition: number, firstOffset: number, nextOffset: number) => ({
  topic: Topics.commands,
  partition,
  firstOffset,
  nextOffset,
})

describe('replayRanges', () => {
  it('follows the recorded order across partitions, then takes what no batch covered', () => {
    const applied = [batch(1, 0, 5), batch(0, 0, 3), batch(1, 5, 6), batch(0, 3, 4)]
    const ends = new Map([
      [0, 10],
      [1, 6],
      [2, 2],
    ])
    expect(replayRanges(applied, ends, 0)).toEqual([
      { partition: 1, firstOffset: 0, nextOffset: 5 },
      { partition: 0, firstOffset: 0, nextOffset: 3 },
      { partition: 1, firstOffset: 5, nextOffset: 6 },
      { partition: 0, firstOffset: 3, nextOffset: 4 },
      { partition: 0, firstOffset: 4, nextOffset: 10 },
      { partition: 2, firstOffset: 0, nextOffset: 2 },
    ])
  })

  it('clips to --from-offset and to what the log still holds, ignoring other topics', () => {
    const applied = [batch(0, 0, 4), { ...batch(0, 0, 100), topic: 'other' }, batch(0, 4, 9)]
    expect(replayRanges(applied, new Map([[0, 7]]), 5)).toEqual([
      { partition: 0, firstOffset: 5, nextOffset: 7 },
    ])
  })

  it('replays each partition whole when nothing was recorded', () => {
    expect(
      replayRanges(
        [],
        new Map([
          [0, 3],
          [1, 0],
        ]),
        0,
      ),
    ).toEqual([{ partition: 0, firstOffset: 0, nextOffset: 3 }])
  })
})
