import { isObject } from '../ingest/pipeline-event.ts'

const maxText = 400
const maxHref = 2048

/**
 * The autocapture element chain PostHog stores (`elements_chain`), from posthog-js's
 * `$elements_chain` string or its `$elements` array: per element `tag.class1.class2:` then its
 * attributes `key="value"` sorted by key; elements joined by `;`, the clicked one first.
 */
export function elementsChainOf(properties: Record<string, unknown>): string {
  const chain = properties.$elements_chain
  if (typeof chain === 'string') return chain
  const elements = properties.$elements
  if (!Array.isArray(elements)) return ''
  return elements.filter(isObject).map(elementText).join(';')
}

function elementText(element: Record<string, unknown>): string {
  const tag = typeof element.tag_name === 'string' ? element.tag_name : ''
  const classes = classList(element)
    .map((c) => c.replace(/"/g, ''))
    .sort()
  const attributes: Record<string, string> = {
    'nth-child': String(element.nth_child ?? 0),
    'nth-of-type': String(element.nth_of_type ?? 0),
  }
  if (element.$el_text !== undefined) attributes.text = String(element.$el_text).slice(0, maxText)
  if (element.attr__href !== undefined) attributes.href = String(element.attr__href).slice(0, maxHref)
  if (element.attr__id !== undefined) attributes.attr_id = String(element.attr__id)
  for (const [key, value] of Object.entries(element)) {
    if (key.startsWith('attr__') && value !== undefined && value !== null) attributes[key] = String(value)
  }
  const attributeText = Object.keys(attributes)
    .sort()
    .map((key) => `${key}="${attributes[key]!.replace(/"/g, '\\"')}"`)
    .join('')
  return `${tag}${classes.map((c) => `.${c}`).join('')}:${attributeText}`
}

function classList(element: Record<string, unknown>): string[] {
  if (Array.isArray(element.classes)) return element.classes.map(String)
  if (typeof element.attr__class === 'string') return element.attr__class.split(/\s+/).filter(Boolean)
  return []
}
