/**
 * `npm run bench [-- name…]` runs the benchmarks named (all by default) and prints each one's table.
 * Figures are ratios against a baseline measured in the same run, so they hold on any machine.
 */
import { appsBench } from './apps.ts'
import { captureBench } from './capture.ts'
import { captureThreadsBench } from './capture-threads.ts'
import { consoleBench } from './console.ts'
import { flagsBench } from './flags.ts'
import { ingestBench } from './ingest.ts'
import { ingestAgainstBench } from './ingest-against.ts'
import { productionBench } from './production.ts'
import { projectorBench } from './projector.ts'
import { startupAndLatencyBench } from './startup-latency.ts'
import { steadyBench } from './steady.ts'

const benches: Record<string, () => Promise<void>> = {
  startup: startupAndLatencyBench,
  capture: captureBench,
  ingest: ingestBench,
  projector: projectorBench,
  production: productionBench,
  steady: steadyBench,
  flags: flagsBench,
  console: consoleBench,
  apps: appsBench,
}
/**
 * Run only when named: they need something only the one running them can give, or answer a
 * question of design for the machine at hand rather than measure sluice.
 */
const onRequest: Record<string, () => Promise<void>> = {
  'ingest-against': ingestAgainstBench,
  'capture-threads': captureThreadsBench,
}

const wanted = process.argv.slice(2)
const names = wanted.length > 0 ? wanted : Object.keys(benches)
for (const name of names) {
  const bench = benches[name] ?? onRequest[name]
  if (!bench) {
    const all = [...Object.keys(benches), ...Object.keys(onRequest)]
    console.error(`unknown benchmark "${name}"; choose from ${all.join(', ')}`)
    process.exit(2)
  }
  console.log(`\n== ${name} ==`)
  await bench()
}
