import { gunzipSync } from 'node:zlib'
import { CaptureError } from './errors.ts'
import { lzDecompressFromBase64 } from './lz-string.ts'

export type Compression = 'gzip' | 'lz64' | 'base64' | null

const mib = 1024 * 1024
/** PostHog's decompressed limit for event requests: five times the /batch body limit. */
export const maxDecompressedBytes = 100 * mib
// gzip → base64 → JSON is the deepest wrapping a real client produces; more is not a payload.
const maxLayers = 4

/** `?compression=`, form `compression` and `Content-Encoding` values PostHog understands. */
export function compressionOf(value: string | undefined): Compression {
  switch (value?.trim().toLowerCase()) {
    case 'gzip':
    case 'gzip-js':
      return 'gzip'
    case 'lz64':
    case 'lz-string':
      return 'lz64'
    case 'base64':
    case 'b64':
      return 'base64'
    default:
      return null
  }
}

/**
 * Peels the encodings off a payload until it is text that may be JSON. The bytes decide, the hint
 * only breaks ties: posthog-js sends gzip unlabelled, old posthog-js labelled base64 form data
 * `gzip-js`, and lz-string output cannot be told from base64 without the hint.
 */
export function decodePayloadText(payload: Buffer, hint: Compression): string {
  let bytes = payload
  let lzTried = false
  for (let layer = 0; layer < maxLayers; layer++) {
    if (isGzip(bytes)) {
      bytes = gunzip(bytes)
    } else if (looksLikeJson(bytes)) {
      break
    } else if (hint === 'lz64' && !lzTried) {
      lzTried = true
      bytes = Buffer.from(lzDecompress(bytes), 'utf8')
    } else {
      const decoded = strictBase64(bytes)
      // Short JSON like `null` or `1234` is base64 too: unwrap only into something that decodes on.
      if (
        decoded === null ||
        !(hint === 'base64' || isGzip(decoded) || looksLikeJson(decoded) || strictBase64(decoded))
      )
        break
      bytes = decoded
    }
    if (bytes.length > maxDecompressedBytes) throw tooLarge()
  }
  return utf8(bytes)
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

function utf8(bytes: Buffer): string {
  try {
    return strictUtf8.decode(bytes)
  } catch {
    throw new CaptureError('invalid_encoding', 'The payload is not valid UTF-8.')
  }
}

function gunzip(payload: Buffer): Buffer {
  try {
    // zlib stops inflating at the cap instead of buffering the whole bomb.
    return gunzipSync(payload, { maxOutputLength: maxDecompressedBytes })
  } catch (error) {
    if (error instanceof RangeError || (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      throw tooLarge()
    throw new CaptureError('invalid_encoding', `The payload is not valid gzip: ${(error as Error).message}`)
  }
}

function lzDecompress(bytes: Buffer): string {
  const result = lzDecompressFromBase64(bytes.toString('latin1').trim(), maxDecompressedBytes)
  if (result.ok) return result.text
  if (result.reason === 'too_large') throw tooLarge()
  throw new CaptureError('invalid_encoding', 'The payload is not valid lz-string base64.')
}

function tooLarge(): CaptureError {
  return new CaptureError(
    'payload_too_large',
    `The decompressed payload is larger than ${maxDecompressedBytes / mib} MiB.`,
  )
}

export function isGzip(bytes: Buffer): boolean {
  return bytes.length >= 3 && bytes[0] === 0x1f && bytes[1] === 0x8b && bytes[2] === 0x08
}

function looksLikeJson(bytes: Buffer): boolean {
  for (const byte of bytes) {
    if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) continue
    // `{`, `[`, or the UTF-8 byte order mark some clients put first.
    return byte === 0x7b || byte === 0x5b || byte === 0xef
  }
  return false
}

/** Standard base64 (line breaks allowed, padding required) decoded, or null if it is not that. */
function strictBase64(bytes: Buffer): Buffer | null {
  const text = bytes
    .toString('latin1')
    .replace(/[\r\n]/g, '')
    .trim()
  if (!isStrictBase64(text)) return null
  const decoded = Buffer.from(text, 'base64')
  return decoded.length > 0 ? decoded : null
}

export function isStrictBase64(text: string): boolean {
  return text.length > 0 && text.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(text)
}
