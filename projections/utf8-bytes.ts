/**
 * Text written straight into one growing buffer as UTF-8, piece by piece. A batch's thousands of
 * rows concatenated into one string and encoded after cost three times as long: the string is
 * flattened (copied) first, then encoded in a second pass.
 */
export interface Utf8Bytes {
  write(text: string): void
  /** Bytes written so far. */
  readonly length: number
  /** What was written: a view of the buffer, valid until the next write. */
  bytes(): Buffer
}

export function utf8Bytes(initialBytes = 64 * 1024): Utf8Bytes {
  let buffer = Buffer.allocUnsafe(initialBytes)
  let at = 0
  return {
    write(text) {
      // UTF-8 takes at most 3 bytes for each UTF-16 unit
      const most = text.length * 3
      if (at + most > buffer.length) {
        const larger = Buffer.allocUnsafe(Math.max(buffer.length * 2, at + most))
        buffer.copy(larger, 0, 0, at)
        buffer = larger
      }
      at += buffer.write(text, at)
    },
    get length() {
      return at
    },
    bytes: () => buffer.subarray(0, at),
  }
}
