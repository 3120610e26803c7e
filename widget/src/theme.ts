/** Theme colours, shared by loader and chat. Only hex colours are accepted: they can be checked for contrast without a CSS parser. */

export const DEFAULT_COLOR = '#1d4ed8';
const HEX_RE = /^#([0-9a-f]{3}){1,2}$/i;

/** WCAG relative luminance of a hex colour. */
export function luminance(hex: string): number {
  let h = hex.slice(1);
  if (h.length === 3) h = h.replace(/./g, '$&$&');
  let l = 0;
  for (let i = 0; i < 3; i++) {
    const c = Number.parseInt(h.slice(i * 2, i * 2 + 2), 16) / 255;
    l += (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4) * ([0.2126, 0.7152, 0.0722][i] as number);
  }
  return l;
}

/**
 * Text colour for a background: white when it reaches 4.5:1, else black. One of the
 * two always does (white fails only when L > 0.183, and then black gives > 4.6:1).
 */
export function textOn(hex: string): string {
  return 1.05 / (luminance(hex) + 0.05) >= 4.5 ? '#fff' : '#000';
}

export function validColor(c: string | undefined): string | undefined {
  return c && HEX_RE.test(c) ? c : undefined;
}

/** The theme sheet's whole text. `!important` so that nothing can override it. */
export function themeCss(color: string): string {
  return `:host{--hc:${color}!important;--hf:${textOn(color)}!important}`;
}
