/** A few DOM helpers: elements built from data, never from HTML strings (nothing is injected). */

type Child = Node | string | number | null | undefined | false
type Attrs = Record<string, string | number | boolean | undefined>

function fill<E extends Element> (node: E, attrs: Attrs, children: readonly Child[]): E {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue
    node.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children) {
    if (c == null || c === false) continue
    node.append(typeof c === 'object' ? c : document.createTextNode(String(c)))
  }
  return node
}

/** An HTML element. */
export function h<K extends keyof HTMLElementTagNameMap> (tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  return fill(document.createElement(tag), attrs, children)
}

/** An SVG element. */
export function svg<K extends keyof SVGElementTagNameMap> (tag: K, attrs: Attrs = {}, ...children: Child[]): SVGElementTagNameMap[K] {
  return fill(document.createElementNS('http://www.w3.org/2000/svg', tag), attrs, children)
}

/** Replaces the children of the element with this id. */
export function mount (id: string, ...children: Child[]): void {
  const target = document.getElementById(id)
  if (target == null) return
  target.replaceChildren()
  fill(target, {}, children)
}

/** 12D3KooWAbc…xyz */
export function short (text: string, head = 10, tail = 4): string {
  return text.length <= head + tail + 1 ? text : `${text.slice(0, head)}…${tail > 0 ? text.slice(-tail) : ''}`
}

export function timeOf (ms: number): string {
  return new Date(ms).toLocaleTimeString()
}
