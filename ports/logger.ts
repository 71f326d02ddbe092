/** The logging port; pino satisfies it. Structured: context object first, message second. */
export interface Logger {
  debug(context: object, message: string): void
  info(context: object, message: string): void
  warn(context: object, message: string): void
  error(context: object, message: string): void
}
