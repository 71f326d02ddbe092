/**
 * lz-string's `decompressFromBase64` (the format posthog-js sent with `compression=lz64`), with an
 * output cap. The `lz-string` package cannot be used on untrusted input: its LZW dictionary lets a
 * few kilobytes expand to gigabytes (each code may repeat the previous entry plus one character),
 * and some malformed inputs make it throw a TypeError instead of failing cleanly.
 */

const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/='
const sixBitValue = new Int8Array(128).fill(-1)
for (let i = 0; i < alphabet.length; i++) sixBitValue[alphabet.charCodeAt(i)] = i
// Form encoding turns '+' into ' ' when a client forgets to escape it.
sixBitValue[' '.charCodeAt(0)] = alphabet.indexOf('+')

export type LzResult =
  | { ok: true; text: string }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'too_large' }

/** Reads the input six bits per character, most significant bit first. */
class BitReader {
  private value = 0
  private mask = 0
  private index = 0
  invalid = false

  constructor(private readonly input: string) {}

  get exhausted(): boolean {
    return this.index > this.input.length
  }

  read(count: number): number {
    let bits = 0
    for (let power = 1; power !== 1 << count; power <<= 1) {
      if (this.mask === 0) this.next()
      if (this.value & this.mask) bits |= power
      this.mask >>= 1
    }
    return bits
  }

  private next(): void {
    const code = this.index < this.input.length ? this.input.charCodeAt(this.index) : 0x41 // 'A' = 0
    this.index++
    const value = code < 128 ? (sixBitValue[code] ?? -1) : -1
    if (value < 0) this.invalid = true
    this.value = Math.max(value, 0)
    this.mask = 32
  }
}

/** Decompresses at most `maxUnits` UTF-16 code units; more is `too_large`, never allocated. */
export function lzDecompressFromBase64(input: string, maxUnits: number): LzResult {
  if (input.length === 0) return { ok: false, reason: 'invalid' }
  const bits = new BitReader(input)
  const dictionary: string[] = ['', '', '']
  const output: string[] = []
  let outputUnits = 0
  let enlargeIn = 4
  let codeWidth = 3

  const literal = (kind: number): string | null => {
    if (kind === 0) return String.fromCharCode(bits.read(8))
    if (kind === 1) return String.fromCharCode(bits.read(16))
    return null
  }

  const first = literal(bits.read(2))
  if (first === null) return { ok: false, reason: 'invalid' }
  dictionary.push(first)
  let previous = first
  output.push(first)
  outputUnits = first.length
  if (outputUnits > maxUnits) return { ok: false, reason: 'too_large' }

  for (;;) {
    if (bits.exhausted || bits.invalid) return { ok: false, reason: 'invalid' }
    let code = bits.read(codeWidth)
    if (code === 2) break
    if (code === 0 || code === 1) {
      const character = literal(code)
      if (character === null) return { ok: false, reason: 'invalid' }
      dictionary.push(character)
      code = dictionary.length - 1
      enlargeIn--
    }
    if (enlargeIn === 0) {
      enlargeIn = 2 ** codeWidth
      codeWidth++
    }
    let entry: string
    if (code < dictionary.length && code > 2) entry = dictionary[code] ?? ''
    else if (code === dictionary.length) entry = previous + previous.charAt(0)
    else return { ok: false, reason: 'invalid' }

    outputUnits += entry.length
    if (outputUnits > maxUnits) return { ok: false, reason: 'too_large' }
    output.push(entry)
    dictionary.push(previous + entry.charAt(0))
    enlargeIn--
    previous = entry
    if (enlargeIn === 0) {
      enlargeIn = 2 ** codeWidth
      codeWidth++
    }
  }
  if (bits.invalid) return { ok: false, reason: 'invalid' }
  return { ok: true, text: output.join('') }
}
