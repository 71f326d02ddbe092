#!/usr/bin/env node
// Fails when a layer imports what docs/architecture.md does not allow it to (run first by `npm test`).
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

const root = new URL('..', import.meta.url).pathname
// layer → the top-level folders (and packages) its non-test files may import
const allowed = {
  schema: { folders: ['schema'], packages: ['@sinclair/typebox', 'kysely'] },
  domain: { folders: ['domain', 'schema'], packages: ['node:crypto', 'uuid'] },
  ports: { folders: ['ports', 'schema'], packages: [] },
  commands: { folders: ['commands', 'domain', 'schema', 'ports'], packages: null },
  projections: { folders: ['projections', 'schema', 'ports'], packages: null },
  // the browser's code: a client of the public API, sharing nothing with the server
  console: { folders: ['console'], packages: ['preact'] },
}
const driverPackages =
  /^(pg|kysely|kafkajs|fastify|chdb|lmdb|@clickhouse\/|@electric-sql\/|quickjs-emscripten|node:fs|fs|node:net|node:http|node:child_process)/

const problems = []
for (const [layer, rule] of Object.entries(allowed)) {
  for (const file of walk(join(root, layer))) {
    if (!/\.tsx?$/.test(file) || /\.(unit|int|e2e)\.test\.ts$/.test(file) || file.includes('/testing/'))
      continue
    const source = readFileSync(file, 'utf8')
    for (const match of source.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g)) {
      const spec = match[1]
      const where = relative(root, file)
      if (spec.startsWith('.')) {
        const target = relative(root, join(file, '..', spec)).split('/')[0]
        if (!rule.folders.includes(target))
          problems.push(`${where}: ${layer}/ may not import ${target}/ (${spec})`)
      } else if (
        rule.packages !== null &&
        !rule.packages.some((p) => spec === p || spec.startsWith(`${p}/`))
      ) {
        problems.push(`${where}: ${layer}/ may not import the package ${spec}`)
      } else if (
        driverPackages.test(spec) &&
        (layer === 'commands' || (layer === 'projections' && spec !== 'kysely'))
      ) {
        // the sandbox (quickjs-emscripten) and every driver stay in adapters/, behind a port
        problems.push(`${where}: ${layer}/ may not import the driver ${spec}; use a port`)
      }
    }
    if (layer === 'domain') {
      // Of the packages the domain may use, only their deterministic functions.
      for (const match of source.matchAll(/import\s*\{([^}]*)\}\s*from\s*['"](node:crypto|uuid)['"]/g)) {
        const deterministic = match[2] === 'uuid' ? ['v5'] : ['createHash', 'hash']
        for (const name of match[1]
          .split(',')
          .map((n) => n.trim().replace(/^type\s+/, ''))
          .filter(Boolean))
          if (!deterministic.includes(name))
            problems.push(
              `${relative(root, file)}: domain/ may use only ${deterministic} of ${match[2]}, not ${name}`,
            )
      }
      if (/import\s+(\*|\w+)[^'"]*from\s*['"](node:crypto|uuid)['"]/.test(source))
        problems.push(`${relative(root, file)}: domain/ imports node:crypto and uuid by name only`)
    }
    if (layer === 'domain' && /Date\.now\(|new Date\(\)|Math\.random\(|randomUUID\(/.test(source)) {
      problems.push(`${relative(root, file)}: domain/ must not read the clock or a random source`)
    }
    // State kept between calls would make a decision depend on what was decided before it.
    if (layer === 'domain' && /^(export\s+)?(let|var)\s/m.test(source)) {
      problems.push(`${relative(root, file)}: domain/ keeps no module-level variables`)
    }
  }
}

// The capture thread must not load a native module the main thread holds state in: chDB's, unloaded
// when the thread ends, takes the process's chDB down with it (an insert in flight never returns).
const mainThreadOnly = /^(chdb|@electric-sql\/pglite)(\/|$)/
const captureThreadModules = new Set()
const reachFromCaptureThread = (file, chain) => {
  if (captureThreadModules.has(file)) return
  captureThreadModules.add(file)
  const source = readFileSync(file, 'utf8')
  // `import type` is erased: only what is loaded counts, statically or by `import('…')`
  for (const match of source.matchAll(
    /(?:^|\n)\s*(?:import|export)(?!\s+type\s)[^'"]*?from\s+['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  )) {
    const spec = match[1] ?? match[2]
    if (spec.startsWith('.')) reachFromCaptureThread(join(file, '..', spec), [...chain, relative(root, file)])
    else if (mainThreadOnly.test(spec))
      problems.push(`the capture thread loads ${spec}: ${[...chain, relative(root, file)].join(' → ')}`)
  }
}
reachFromCaptureThread(join(root, 'adapters/runtime/capture-worker.ts'), [])

function* walk(dir) {
  let entries
  try {
    entries = readdirSync(dir)
  } catch {
    return
  }
  for (const name of entries) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) yield* walk(path)
    else yield path
  }
}

if (problems.length > 0) {
  console.error(`Layer boundaries broken (see docs/architecture.md):\n  ${problems.join('\n  ')}`)
  process.exit(1)
}
console.log('layer boundaries: ok')
