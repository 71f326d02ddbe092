/**
 * The keys identities are known by in maps and sets, in every layer (domain state, the identity
 * store, its cache, fact records). A NUL cannot occur in a team id, and ingest replaces it in ids,
 * so no two identities share a key.
 */
export function identityKey(teamId: number, id: string): string {
  return `${teamId}\u0000${id}`
}

export function groupIdentityKey(teamId: number, groupTypeIndex: number, groupKey: string): string {
  return `${teamId}\u0000${groupTypeIndex}\u0000${groupKey}`
}
