import { writeSync } from 'node:fs'

/**
 * The process's output may lose its reader while sluice runs: the terminal closed, the program it
 * was piped to ended, a supervisor's pipe gone. A write then fails (EPIPE) and, with nobody to hear
 * of it, the failure would end the process on its next log line — a warning, or "Stopping" as it
 * is asked to stop. It is dropped instead: the pipeline goes on, and stops cleanly when asked.
 */
export function outliveLostOutput(): void {
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {})
}

const lastSteps: (() => void)[] = []

/** A step for the process's very end, however it ends: normally, or at once (endBySignal). */
export function atProcessEnd(step: () => void): void {
  lastSteps.push(step)
  process.once('exit', step)
}

/**
 * Ends the process at once, as a program ends on a signal it leaves to its default action: the
 * steps given to atProcessEnd run (the data dir lock is released), then `signal` is raised again,
 * so whoever started it sees it end by that signal (a shell says 130 for SIGINT).
 *
 * Neither process.exit() nor the other `exit` listeners while the log may be writing: exiting joins
 * libuv's pool, where lmdb-js's writer can be waiting for this very thread to hear of its progress,
 * which it never will again — the process then hangs instead of ending (kriszyp/lmdb-js#336; here
 * once in six second Ctrl-Cs under load). Running every exit listener before the signal, one such
 * stop of twelve still took 30 s of CPU before it ended.
 */
export function endBySignal(signal: 'SIGINT' | 'SIGTERM' | 'SIGKILL'): never {
  for (const step of lastSteps) {
    try {
      step()
    } catch {
      // a step that fails must not keep the process from ending
    }
  }
  process.removeAllListeners(signal)
  process.kill(process.pid, signal)
  // the signal is delivered before kill returns; were it somehow not, nothing may run on
  process.kill(process.pid, 'SIGKILL')
  throw new Error(`${signal} did not end the process`)
}

/**
 * An error nothing caught ends the process — its state is not known any more — said on stderr, and
 * ended as endBySignal does, so that a supervisor can start it again rather than find it hung.
 */
export function endOnUncaughtErrors(): void {
  process.on('uncaughtException', (error) => {
    try {
      const text = error instanceof Error ? (error.stack ?? error.message) : String(error)
      writeSync(2, `sluice: an error nothing caught ends the process:\n${text}\n`)
    } catch {
      // no stderr to say it on
    }
    endBySignal('SIGKILL')
  })
}
