import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { elementsChainOf, elementsOfChain } from './elements-chain.ts'

describe('elements chain', () => {
  it('is written from posthog-js $elements as PostHog writes it, and read back into elements', () => {
    const chain = elementsChainOf({
      $elements: [
        {
          tag_name: 'button',
          classes: ['primary', 'btn'],
          $el_text: 'Sign "up"',
          nth_child: 2,
          nth_of_type: 1,
          attr__id: 'signup',
          'attr__data-attr': 'cta',
        },
        { tag_name: 'div', nth_child: 1, nth_of_type: 1, attr__href: '/next' },
      ],
    })
    expect(chain).toBe(
      'button.btn.primary:attr__data-attr="cta"attr__id="signup"attr_id="signup"nth-child="2"nth-of-type="1"text="Sign \\"up\\"";' +
        'div:attr__href="/next"href="/next"nth-child="1"nth-of-type="1"',
    )
    expect(elementsOfChain(chain)).toEqual([
      {
        text: 'Sign \\"up\\"',
        tag_name: 'button',
        attr_class: ['btn', 'primary'],
        href: null,
        attr_id: 'signup',
        nth_child: 2,
        nth_of_type: 1,
        attributes: { 'attr__data-attr': 'cta', attr__id: 'signup' },
        order: 0,
      },
      {
        text: null,
        tag_name: 'div',
        attr_class: null,
        href: '/next',
        attr_id: null,
        nth_child: 1,
        nth_of_type: 1,
        attributes: { attr__href: '/next' },
        order: 1,
      },
    ])
  })

  it('keeps a chain posthog-js sent as text, and reads colons in classes and odd keys as PostHog does', () => {
    expect(elementsChainOf({ $elements_chain: 'a.x:href="/"' })).toBe('a.x:href="/"')
    const [element] = elementsOfChain('a.hover:underline:nth-child="x"__proto__="p"constructor="c"')
    expect(element).toMatchObject({ tag_name: 'a', attr_class: ['hover:underline'], nth_child: null })
    expect(Object.keys(element!.attributes)).toEqual(['__proto__', 'constructor'])
    expect(Object.getPrototypeOf(element!.attributes)).toBe(Object.prototype)
  })

  it('gives back the tag, classes and attributes of any elements it wrote', () => {
    const word = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/)
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            tag_name: word,
            classes: fc.array(word, { maxLength: 3 }),
            nth_child: fc.nat(20),
            nth_of_type: fc.nat(20),
            // a backslash before a closing quote is the one thing the format cannot tell apart
            attributes: fc.dictionary(
              word.map((w) => `attr__${w}`),
              fc.string({ maxLength: 12 }).map((v) => v.replaceAll('\\', '/')),
              { maxKeys: 3 },
            ),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        (elements) => {
          const chain = elementsChainOf({
            $elements: elements.map(({ attributes, ...rest }) => ({ ...rest, ...attributes })),
          })
          const read = elementsOfChain(chain)
          expect(read.map((e) => e.tag_name)).toEqual(elements.map((e) => e.tag_name))
          read.forEach((e, i) => {
            const written = elements[i]!
            expect(e.attr_class ?? []).toEqual([...written.classes].sort())
            expect(e.nth_child).toBe(written.nth_child)
            const escaped = Object.fromEntries(
              Object.entries(written.attributes).map(([k, v]) => [k, v.replace(/"/g, '\\"')]),
            )
            expect(e.attributes).toEqual(escaped)
          })
        },
      ),
      { numRuns: 300 },
    )
  })
})
