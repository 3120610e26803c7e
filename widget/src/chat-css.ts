/**
 * The chat panel's styles, adopted into the shadow root next to the loader's. Colours are
 * tokens on the wrapper (`.w`, inside the shadow root, so no page rule reaches them), with a
 * dark set under `prefers-color-scheme: dark`; the site's colour (`--hc`, text on it `--hf`)
 * stays the accent in both, and focus rings are drawn in it (on the header, in `--hf`).
 * Tokens: --b background, --t text, --m muted text, --u bubble and avatar, --e borders,
 * --k links, --r errors, --y the connection banner. Each text pair is at least 4.5:1
 * (light: #57606a on #fff 6.4:1, #b91c1c on #fff 6.5:1, #1d4ed8 on #f1f3f5 6.9:1; dark:
 * #9da7b3 on #2d333b 5.2:1, #79c0ff on #2d333b 6.5:1, #ff8e87 on #1c2128 7:1), checked
 * by axe in both schemes (e2e/widget-a11y.test.ts); the theme pair is checked by theme.ts. Inputs are 16px so iOS does not zoom on focus. px only (see loader-css.ts).
 */
export const CHAT_CSS = `.w{--b:#fff;--t:#1f2328;--m:#57606a;--u:#f1f3f5;--e:#6e7781;--k:#1d4ed8;--r:#b91c1c;--y:#fff4d6;color:var(--t)}
@media (prefers-color-scheme:dark){.w{--b:#1c2128;--t:#e6edf3;--m:#9da7b3;--u:#2d333b;--e:#8b949e;--k:#79c0ff;--r:#ff8e87;--y:#4b3a00;color-scheme:dark}}
.p{position:fixed;right:20px;bottom:88px;width:380px;max-width:calc(100vw - 40px);height:600px;max-height:calc(100vh - 110px);display:flex;flex-direction:column;background:var(--b);border-radius:14px;box-shadow:0 8px 40px #0005;overflow:hidden;pointer-events:auto}
.l .p{right:auto;left:20px}
.p[hidden],.o .lc span:not(.bd){display:none}
.hd{display:flex;align-items:center;gap:10px;padding:10px 14px;background:var(--hc);color:var(--hf)}
.tt{flex:1;min-width:0}
h2,h3,p{margin:0;font-size:16px}
.hd p,.mt{font-size:13px}
.av{width:34px;height:34px;border-radius:50%;flex:none;display:flex;align-items:center;justify-content:center;background:var(--u);font-weight:700;font-size:13px;overflow:hidden;position:relative}
.av img{position:absolute;width:100%;height:100%;object-fit:cover}
button{font:inherit;cursor:pointer;border:0;background:none;color:inherit}
.x,.sb{width:44px;height:44px;border-radius:22px;display:flex;align-items:center;justify-content:center;flex:none}
svg{width:22px;height:22px;fill:currentColor}
:focus-visible{outline:3px solid var(--hc);outline-offset:2px}
.hd :focus-visible{outline-color:var(--hf)}
.bn{padding:8px 14px;background:var(--y)}
.ls,.fm{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:6px}
.m{max-width:85%;display:flex;flex-direction:column;align-items:flex-start}
.me{align-self:flex-end;align-items:flex-end}
.bu{padding:8px 12px;border-radius:16px;background:var(--u);white-space:pre-wrap;overflow-wrap:anywhere;font-size:15px}
.me .bu,.sb,.btn{background:var(--hc);color:var(--hf)}
a,.lk{color:var(--k);text-decoration:underline}
.me a{color:inherit}
.mt{color:var(--m)}
.ev{align-self:center;text-align:center}
.f{color:var(--r);font-size:13px}
.cp{display:flex;gap:8px;align-items:flex-end;padding:10px;border-top:1px solid var(--e)}
textarea,input{font:inherit;font-size:16px;line-height:1.35;color:inherit;background:var(--b);border:1px solid var(--e);border-radius:10px;padding:9px 12px;width:100%;resize:none;field-sizing:content;max-height:140px}
::placeholder{color:var(--m)}
label{display:flex;flex-direction:column;gap:4px;font-size:14px}
.btn{border-radius:10px;padding:11px;font-weight:700}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
@media (max-width:480px){.p{inset:0 0 auto!important;width:auto;max-width:none;height:var(--vh,100%);max-height:none;border-radius:0;padding:env(safe-area-inset-top) env(safe-area-inset-right) env(safe-area-inset-bottom) env(safe-area-inset-left)}.o .lc{display:none}}`;
