/**
 * The launcher's styles. Every `:host` declaration is `!important`: for important
 * declarations the shadow context beats the page, so `hark-chat{display:none!important}`
 * or `*{all:unset}` on the host page cannot hide, move or restyle the widget
 * (see DESIGN.md, Known traps). Inside the shadow root page rules do not apply at all,
 * but inherited properties would, hence `all:initial` (which also resets transform,
 * filter, opacity, contain… on the host, so its fixed children stay fixed to the viewport). Sizes are px, never rem: rem
 * follows the page's `html{font-size}`.
 */
export const LOADER_CSS = `:host{all:initial!important;display:block!important;position:fixed!important;z-index:2147483647!important;pointer-events:none!important;font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif!important;color:#1f2328!important}
*{box-sizing:border-box}
.lc{position:fixed;right:max(20px,env(safe-area-inset-right));bottom:max(20px,env(safe-area-inset-bottom));min-width:56px;height:56px;padding:0 16px;border:0;border-radius:28px;background:var(--hc);color:var(--hf);font:inherit;font-weight:600;line-height:1;display:flex;align-items:center;justify-content:center;gap:8px;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);pointer-events:auto;transition:transform .15s}
.lc:hover{transform:scale(1.05)}
.lc:focus-visible{outline:3px solid var(--hc);outline-offset:3px}
.l .lc{right:auto;left:max(20px,env(safe-area-inset-left))}
.lc svg{width:26px;height:26px;fill:currentColor;flex:none}
.lc .x,.o .lc .b{display:none}
.o .lc .x{display:block}
.bd{position:absolute;top:-4px;right:-4px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;background:#b91c1c;color:#fff;font-size:12px;line-height:22px;font-weight:700;text-align:center}
.lc span:empty{display:none}
@media (prefers-reduced-motion:reduce){.lc{transition:none}}`;
