import { randomBytes } from 'node:crypto'

const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'

function randomText(length: number): string {
  const bytes = randomBytes(length * 2)
  let text = ''
  // 62 does not divide 256: skip bytes that would bias the draw.
  for (const byte of bytes) {
    if (byte >= 248) continue
    text += alphabet[byte % 62]
    if (text.length === length) return text
  }
  return text + randomText(length - text.length)
}

/** A project token as PostHog shapes them (`phc_` + 43 characters). */
export const newProjectToken = () => `phc_${randomText(43)}`
/** A personal API key (`phx_` + 43 characters). */
export const newPersonalApiKey = () => `phx_${randomText(43)}`
