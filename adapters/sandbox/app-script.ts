import { AppSourceError } from '../../ports/apps.ts'

/**
 * An app's source as a plain script: PostHog plugins are modules (`export function processEvent`),
 * and a QuickJS module cannot be run again for every event without being parsed again, so the
 * `export` keywords go (and `export { … }` lists become plain bindings). `import` is refused: an app
 * has nothing to import. Done on the text, so an `export` at the start of a line inside a string
 * would be changed too — an app that does that gets a syntax error at install, never a wrong app.
 */
export function appScript(source: string): string {
  if (/^\s*import\s*[\w{*'"(]/m.test(source) && !/^\s*import\s*\(/m.test(source))
    throw new AppSourceError('apps cannot import modules: remove the import statements')
  return source
    .replace(/^(\s*)export\s+default\s+(?=(async\s+)?function\s*\*?\s*processEvent\b)/gm, '$1')
    .replace(/^(\s*)export\s+(?=(async\s+)?function\b|const\b|let\b|var\b|class\b)/gm, '$1')
    .replace(/^(\s*)export\s*\{([^}]*)\}\s*;?/gm, (_match, indent: string, names: string) =>
      exportList(indent, names),
    )
}

/** `export { handle as processEvent }` keeps `processEvent` bound; plain names are bound already. */
function exportList(indent: string, names: string): string {
  const renamed = names
    .split(',')
    .map((name) => /^\s*([\w$]+)\s+as\s+([\w$]+)\s*$/.exec(name))
    .filter((match): match is RegExpExecArray => match !== null && match[1] !== match[2])
    .map((match) => `const ${match[2]} = ${match[1]};`)
  return `${indent}${renamed.join(' ')}`
}

/**
 * The expression the sandbox evaluates once per app version: a function that runs the app's
 * top-level code and hands back its `processEvent`. Calling it afresh for every event gives every
 * event fresh top-level bindings. Strict, so an assignment to an undeclared name throws instead of
 * reaching for the (frozen) global object. The script starts on the first line, so the app's line
 * numbers in errors are its own.
 */
export function factoryExpression(script: string): string {
  return `(function () { 'use strict'; ${script}
;return typeof processEvent === 'function' ? processEvent : undefined
})`
}
