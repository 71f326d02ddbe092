/** Which dead letters were appended again by `sluice dlq replay`. Authoritative in Postgres. */
export interface DeadLetterReplays {
  /** When each replayed letter was last replayed, and how often, by letter id. */
  replayed(): Promise<Map<string, { at: string; replays: number }>>
  markReplayed(ids: readonly string[], at: Date): Promise<void>
}
