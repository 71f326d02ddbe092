const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/='

/**
 * An lz-string base64 stream of `steps` codes that each repeat the previous entry plus one
 * character: a few kilobytes that expand to about steps²/2 characters of 'A'. Built code by code
 * (compressing the expansion itself would take the time and memory the test wants to avoid).
 */
export function lzRepeatBomb(steps: number): { base64: string; expandedLength: number } {
  const bits: number[] = []
  const write = (value: number, width: number) => {
    for (let i = 0; i < width; i++) bits.push((value >> i) & 1)
  }
  write(0, 2) // an 8-bit literal follows
  write('A'.charCodeAt(0), 8)
  let dictionarySize = 4
  let enlargeIn = 4
  let width = 3
  let entryLength = 1
  let expandedLength = 1
  for (let step = 0; step < steps; step++) {
    write(dictionarySize, width) // the entry being defined: previous + its first character
    entryLength++
    expandedLength += entryLength
    dictionarySize++
    if (--enlargeIn === 0) {
      enlargeIn = 2 ** width
      width++
    }
  }
  write(2, width) // end of stream
  let base64 = ''
  for (let i = 0; i < bits.length; i += 6) {
    let value = 0
    for (let j = 0; j < 6; j++) value = (value << 1) | (bits[i + j] ?? 0)
    base64 += alphabet[value]
  }
  while (base64.length % 4 !== 0) base64 += '='
  return { base64, expandedLength }
}
