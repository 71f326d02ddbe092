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

/** `expectedBytes`: what the text will most likely take (its UTF-16 length for ASCII text). */
export function utf8Bytes(expectedBytes: number): Utf8Bytes {
  let buffer = Buffer.allocUnsafe(Math.max(expectedBytes, 1024))
  let at = 0
  return {
    write(text) {
      // UTF-8 takes at most 3 bytes for each UTF-16 unit; only near the end is the exact size counted
      if (at + text.length * 3 > buffer.length) {
        const needed = at + Buffer.byteLength(text)
        if (needed > buffer.length) {
          const larger = Buffer.allocUnsafe(Math.max(buffer.length * 2, needed))
          buffer.copy(larger, 0, 0, at)
          buffer = larger
        }
      }
      at += buffer.write(text, at)
    },
    get length() {
      return at
    },
    bytes: () => buffer.subarray(0, at),
  }
}
