import { describe, expect, it } from 'vitest'
import type { PipelineEvent } from '../ingest/pipeline-event.ts'
import { appEventJson, eventFromApp, sandboxInputsOf, storableText } from './app-event.ts'

const before: PipelineEvent = {
  uuid: '0190f0a0-0000-7000-8000-000000000001',
  event: 'viewed',
  distinctId: 'anon-1',
  token: 'phc_x',
  properties: { plan: 'free', $set: { plan: 'free' } },
  timestamp: '2026-11-25T10:00:00.000Z',
  ip: '10.0.0.1',
  now: '2026-11-25T10:00:01.000Z',
  sentAt: null,
  historicalMigration: false,
  timestampWarnings: [],
}

/** What an app hands back after changing the event it got as `change` says. */
const afterApp = (change: (event: Record<string, unknown>) => unknown) =>
  eventFromApp(before, JSON.stringify(change(JSON.parse(appEventJson(before, 3)))))

describe('the event an app gets and returns', () => {
  it("is PostHog's plugin event: $set inside the properties, the project as team_id", () => {
    expect(JSON.parse(appEventJson(before, 3))).toEqual({
      uuid: before.uuid,
      event: 'viewed',
      distinct_id: 'anon-1',
      properties: { plan: 'free', $set: { plan: 'free' } },
      timestamp: '2026-11-25T10:00:00.000Z',
      now: '2026-11-25T10:00:01.000Z',
      sent_at: null,
      ip: '10.0.0.1',
      team_id: 3,
    })
  })

  it('takes back a new name, distinct id and properties; uuid, times and ip stay the command’s', () => {
    const result = afterApp((event) => ({
      ...event,
      event: 'renamed',
      distinct_id: 42,
      properties: { plan: 'pro' },
      uuid: 'other',
      timestamp: '2000-01-01T00:00:00.000Z',
      ip: null,
    }))
    expect(result).toEqual({
      ok: true,
      event: { ...before, event: 'renamed', distinctId: '42', properties: { plan: 'pro' } },
    })
  })

  it('merges a top-level $set and $set_once into the properties, top level winning, as PostHog does after its apps', () => {
    const result = afterApp((event) => ({
      ...event,
      $set: { plan: 'pro', email: 'a@b.c' },
      $set_once: { first: 1 },
    }))
    expect(result.ok && result.event.properties).toEqual({
      plan: 'free',
      $set: { plan: 'pro', email: 'a@b.c' },
      $set_once: { first: 1 },
    })
  })

  it('cuts a long name to 200 characters and replaces NUL, as for commands', () => {
    const result = afterApp((event) => ({
      ...event,
      event: 'x'.repeat(300),
      properties: { 'k\u0000': 'v\u0000' },
    }))
    expect(result.ok && result.event.event).toHaveLength(200)
    expect(result.ok && result.event.properties).toEqual({ 'k\uFFFD': 'v\uFFFD' })
  })

  it('refuses what is not an event, saying why', () => {
    expect(afterApp(() => true)).toEqual({
      ok: false,
      reason: 'processEvent returned neither an event object nor a falsy value',
    })
    expect(afterApp(() => [1])).toMatchObject({ ok: false })
    expect(afterApp((event) => ({ ...event, event: '' }))).toMatchObject({ ok: false, reason: /no name/ })
    expect(afterApp((event) => ({ ...event, distinct_id: null }))).toMatchObject({
      ok: false,
      reason: /distinct_id/,
    })
    expect(afterApp((event) => ({ ...event, properties: 'x' }))).toMatchObject({
      ok: false,
      reason: /properties/,
    })
    expect(eventFromApp(before, 'not json')).toMatchObject({ ok: false })
  })

  it('gives the sandbox the capture time and a seed from the uuid: the same for the same event, another for another', () => {
    const inputs = sandboxInputsOf(before)
    expect(inputs.nowMs).toBe(Date.parse('2026-11-25T10:00:01.000Z'))
    expect(sandboxInputsOf({ ...before })).toEqual(inputs)
    expect(
      sandboxInputsOf({ ...before, uuid: '0190f0a0-0000-7000-8000-000000000002' }).randomSeed,
    ).not.toEqual(inputs.randomSeed)
    for (const word of inputs.randomSeed)
      expect(Number.isInteger(word) && word >= 0 && word < 2 ** 32).toBe(true)
  })

  it('makes text storable: no NUL, no half surrogate pair, whole pairs kept', () => {
    expect(storableText('a\u0000b\ud800c\udc00d😀')).toBe('a\uFFFDb\uFFFDc\uFFFDd😀')
  })
})
