// Building the page's elements. Text always goes in as text nodes, never parsed as markup, so names
// and messages read from a dropped file show as they are and cannot add elements or run scripts.

const SVG_NS = 'http://www.w3.org/2000/svg';

type Child = Node | string;

/** The page element with this id. */
export const byId = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

/** An HTML element with attributes and children; string children become text. */
export function html<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

/** An SVG element with attributes and children; string children become text. */
export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, ...children: Child[]): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  e.append(...children);
  return e;
}

/** Shows `message` in `where` as a failure. */
export function showError(where: HTMLElement, message: string): void {
  where.textContent = message;
  where.className = 'bad';
}
