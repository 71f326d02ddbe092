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

/** One element of a chain as PostHog's events API shows it (`elements` beside `elements_chain`). */
export interface ChainElement {
  text: string | null
  tag_name: string | null
  attr_class: string[] | null
  href: string | null
  attr_id: string | null
  nth_child: number | null
  nth_of_type: number | null
  attributes: Record<string, string>
  order: number
}

// PostHog's reading of a chain (posthog/models/element/element.py): elements split on `;` outside
// quotes, the tag and classes before the first `:` that starts an attribute, attributes `key="value"`
// with escaped quotes kept as they are.
const elementInChain = /(?:[^\s;"]|"(?:\\.|[^"])*")+/g
const tagAndAttributes = /(.*?)($|:([a-zA-Z\-_0-9]*=.*))/
const attributeInElement = /(.*?)="((?:[^"\\]|\\.)*)"/g
const promoted: Record<string, 'text' | 'href' | 'attr_id' | 'nth_child' | 'nth_of_type'> = {
  text: 'text',
  href: 'href',
  attr_id: 'attr_id',
  'nth-child': 'nth_child',
  'nth-of-type': 'nth_of_type',
}

/** The elements of an `elements_chain`, clicked one first, as PostHog's API lists them. */
export function elementsOfChain(chain: string): ChainElement[] {
  return [...chain.matchAll(elementInChain)].map(([text], order) => {
    const element: ChainElement = {
      text: null,
      tag_name: null,
      attr_class: null,
      href: null,
      attr_id: null,
      nth_child: null,
      nth_of_type: null,
      attributes: {},
      order,
    }
    const [, tagPart = '', , attributePart] = tagAndAttributes.exec(text) ?? []
    if (tagPart !== '') {
      const dot = tagPart.indexOf('.')
      element.tag_name = dot < 0 ? tagPart : tagPart.slice(0, dot)
      if (dot >= 0)
        element.attr_class = tagPart
          .slice(dot + 1)
          .split('.')
          .filter(Boolean)
    }
    for (const [, key = '', value = ''] of attributePart?.matchAll(attributeInElement) ?? []) {
      const field = Object.hasOwn(promoted, key) ? promoted[key] : undefined
      if (field === 'nth_child' || field === 'nth_of_type') element[field] = wholeNumber(value)
      else if (field !== undefined) element[field] = value
      else if (key !== '')
        Object.defineProperty(element.attributes, key, {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        })
    }
    return element
  })
}

function wholeNumber(text: string): number | null {
  return /^\s*[+-]?\d+\s*$/.test(text) ? Number(text) : null
}
