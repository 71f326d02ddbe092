import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, statfsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serviceAvailable } from '../support/services.ts'
import { eventually, type SluiceProcess, startSluiceProcess } from '../support/sluice-process.ts'

/**
 * A data dir on a small filesystem of its own (tmpfs, 300 MB — bounded), filled to the last block
 * while sluice runs. Mounting needs root, as CI has; elsewhere the test skips, or fails with
 * SLUICE_REQUIRE_SERVICES=1.
 */
function mountSmallDisk(): string | null {
  const mountPoint = mkdtempSync(join(tmpdir(), 'sluice-small-disk-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=300m', 'tmpfs', mountPoint], { stdio: 'pipe' })
    return mountPoint
  } catch (error) {
    rmSync(mountPoint, { recursive: true, force: true })
    const why = (error as { stderr?: Buffer }).stderr?.toString().trim() || (error as Error).message
    serviceAvailable('a tmpfs mount (needs root)', false, why)
    return null
  }
}

/**
 * Fills the disk to its last few blocks. sluice goes on writing while this runs, so the room read
 * a moment ago may be gone by the time it is claimed: claim what is free now, again, until
 * nothing worth claiming is left.
 */
function fillDisk(disk: string): string[] {
  const fillers: string[] = []
  for (let attempt = 0; attempt < 50; attempt++) {
    const { bavail, bsize } = statfsSync(disk)
    const free = Number(bavail) * Number(bsize)
    if (free <= 64 * 1024) break
    const filler = join(disk, `filler-${attempt}`)
    try {
      execFileSync('fallocate', ['-l', String(free - 16 * 1024), filler], { stdio: 'pipe' })
      fillers.push(filler)
    } catch {
      rmSync(filler, { force: true })
    }
  }
  return fillers
}

describe('a full disk', () => {
  let mountPoint: string | null = null
  let sluice: SluiceProcess | undefined
  beforeAll(() => {
    mountPoint = mountSmallDisk()
  })
  afterAll(async () => {
    await sluice?.stop()
    if (mountPoint) {
      execFileSync('umount', ['-l', mountPoint])
      rmSync(mountPoint, { recursive: true, force: true })
    }
  })

  it('gets 503 for what cannot be stored, loses nothing accepted, and sluice goes on by itself once there is room', async (ctx) => {
    if (mountPoint === null) return ctx.skip()
    const disk = mountPoint
    sluice = await startSluiceProcess({ dataDir: join(disk, 'data') })
    const running = sluice
    const send = async (distinctId: string) => {
      const response = await fetch(`${running.url}/batch/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          api_key: running.credentials.project_token,
          batch: [{ event: 'written', distinct_id: distinctId, properties: { $set: { n: distinctId } } }],
        }),
      })
      return response.status
    }
    const accepted: string[] = []
    for (const id of ['before-1', 'before-2', 'before-3']) {
      expect(await send(id)).toBe(200)
      accepted.push(id)
    }
    await eventually(async () =>
      (await running.api<{ results: unknown[] }>(`/api/projects/${running.credentials.project_id}/events/`))
        .body.results.length === 3
        ? true
        : undefined,
    )

    const fillers = fillDisk(disk)
    // the log may still have room in pages it holds; soon nothing more can be stored
    const refused: string[] = []
    for (let i = 0; i < 200 && refused.length < 3; i++) {
      const id = `full-${i}`
      const status = await send(id)
      expect([200, 503]).toContain(status)
      if (status === 200) accepted.push(id)
      else refused.push(id)
    }
    expect(refused.length).toBe(3)
    expect(running.child.exitCode).toBeNull()
    // events accepted into room the log still had cannot go further: ingest waits, and says so
    if (accepted.some((id) => id.startsWith('full-')))
      await eventually(async () =>
        (await fetch(`${running.url}/_readiness`)).status === 503 ? true : undefined,
      )

    for (const filler of fillers) rmSync(filler)
    for (const id of ['after-1', 'after-2']) {
      expect(await eventually(async () => ((await send(id)) === 200 ? 200 : undefined))).toBe(200)
      accepted.push(id)
    }
    const seen = await eventually(
      async () => {
        const { body } = await running.api<{ results: { distinct_id: string }[] }>(
          `/api/projects/${running.credentials.project_id}/events/?limit=1000`,
        )
        const ids = body.results.map((e) => e.distinct_id)
        return accepted.every((id) => ids.includes(id)) ? ids : undefined
      },
      60_000,
      'every accepted event to be visible',
      running.output,
    )
    for (const id of refused) expect(seen).not.toContain(id)
    await eventually(async () =>
      (await fetch(`${running.url}/_readiness`)).status === 200 ? true : undefined,
    )
    expect(running.output()).not.toContain('Unhandled')
    // no store ran out of room mid-write: the process's memory is whole, chDB never saw a crash
    expect(running.output()).not.toMatch(/corrupted size|fatal error/)
  })
})
