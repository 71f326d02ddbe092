import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { consoleRoutes } from './console-routes.ts'

/** The console's page and assets as the api role serves them (the page itself is driven in tests/e2e/console). */
describe('the console is served from sluice itself', () => {
  let app: FastifyInstance
  beforeAll(async () => {
    app = Fastify()
    await app.register(consoleRoutes)
  })
  afterAll(() => app.close())

  it('answers / and every console path with the page, which may load nothing from another origin', async () => {
    const paths = [
      '/',
      '/console',
      '/console/events?event=x',
      '/console/persons/0190f0a0-0000-7000-8000-000000000001',
      '/console/ingestion',
      '/console/flags/new',
      '/console/apps/3',
    ]
    const pages = await Promise.all(paths.map((url) => app.inject({ url })))
    for (const page of pages) {
      expect(page.statusCode).toBe(200)
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8')
      expect(page.body).toBe(pages[0]!.body)
      const policy = String(page.headers['content-security-policy'])
      expect(policy).toContain("default-src 'none'")
      for (const kind of ['script-src', 'style-src', 'img-src', 'connect-src'])
        expect(policy).toContain(`${kind} 'self'`)
    }
    const references = [...pages[0]!.body.matchAll(/(?:src|href)="([^"]*)"/g)].map((m) => m[1])
    expect(references.sort()).toEqual([
      '/console/assets/console.css',
      '/console/assets/console.js',
      '/console/assets/icon.svg',
    ])
  })

  it('bundles the script with Preact once, and serves each asset with its type and a validator', async () => {
    const script = await app.inject({ url: '/console/assets/console.js' })
    expect(script.statusCode).toBe(200)
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8')
    expect(script.body).toContain('Personal API key')
    expect(script.body).not.toMatch(/\bimport\s*["'{*]/) // one file: nothing left to fetch
    const again = await app.inject({
      url: '/console/assets/console.js',
      headers: { 'if-none-match': String(script.headers.etag) },
    })
    expect(again.statusCode).toBe(304)
    const style = await app.inject({ url: '/console/assets/console.css' })
    expect(style.headers['content-type']).toBe('text/css; charset=utf-8')
    expect(style.body).not.toMatch(/@import|url\(\s*["']?(https?:)?\/\//)
    const icon = await app.inject({ url: '/console/assets/icon.svg' })
    expect(icon.headers['content-type']).toBe('image/svg+xml')
  })

  it('knows no other asset', async () => {
    for (const name of ['index.html', 'main.tsx', '..%2Fpackage.json', 'constructor']) {
      const response = await app.inject({ url: `/console/assets/${name}` })
      expect(response.statusCode).toBe(404)
    }
  })
})
