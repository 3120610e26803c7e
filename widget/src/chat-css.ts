/**
 * The chat panel's styles, adopted into the shadow root next to the loader's. Colours
 * are picked for at least 4.5:1 on their backgrounds (#57606a on #fff is 6.4:1,
 * #b91c1c on #fff 6.5:1, #1d4ed8 on #f1f3f5 6.9:1; the theme pair is checked by
 * theme.ts). Inputs are 16px so iOS does not zoom on focus. px only (see loader-css.ts).
 */
export const CHAT_CSS = `.p{position:fixed;right:20px;bottom:88px;width:380px;max-width:calc(100vw - 40px);height:600px;max-height:calc(100vh - 110px);display:flex;flex-direction:column;background:#fff;border-radius:14px;box-shadow:0 8px 40px #0005;overflow:hidden;pointer-events:auto}
.l .p{right:auto;left:20px}
.p[hidden],.o .lc span:not(.bd){display:none}
.hd{display:flex;align-items:center;gap:10px;padding:10px 14px;background:var(--hc);color:var(--hf)}
.tt{flex:1;min-width:0}
h2,h3,p{margin:0;font-size:16px}
.hd p,.mt{font-size:13px}
.av{width:34px;height:34px;border-radius:50%;flex:none;display:flex;align-items:center;justify-content:center;background:#e5e7eb;color:#1f2328;font-weight:700;font-size:13px;overflow:hidden;position:relative}
.av img{position:absolute;width:100%;height:100%;object-fit:cover}
button{font:inherit;cursor:pointer;border:0;background:none;color:inherit}
.x,.sb{width:44px;height:44px;border-radius:22px;display:flex;align-items:center;justify-content:center;flex:none}
svg{width:22px;height:22px;fill:currentColor}
:focus-visible{outline:3px solid #1d4ed8;outline-offset:2px}
.bn{padding:8px 14px;background:#fff4d6}
.ls,.fm{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:6px}
.m{max-width:85%;display:flex;flex-direction:column;align-items:flex-start}
.me{align-self:flex-end;align-items:flex-end}
.bu{padding:8px 12px;border-radius:16px;background:#f1f3f5;white-space:pre-wrap;overflow-wrap:anywhere;font-size:15px}
.me .bu,.sb,.btn{background:var(--hc);color:var(--hf)}
a,.lk{color:#1d4ed8;text-decoration:underline}
.me a{color:inherit}
.mt{color:#57606a}
.ev{align-self:center;text-align:center}
.f{color:#b91c1c;font-size:13px}
.cp{display:flex;gap:8px;align-items:flex-end;padding:10px;border-top:1px solid #d0d7de}
textarea,input{font:inherit;font-size:16px;line-height:1.35;color:#1f2328;background:#fff;border:1px solid #6e7781;border-radius:10px;padding:9px 12px;width:100%;resize:none;field-sizing:content;max-height:140px}
::placeholder{color:#6e7781}
label{display:flex;flex-direction:column;gap:4px;font-size:14px}
.btn{border-radius:10px;padding:11px;font-weight:700}
.rt{display:flex;gap:8px;border:0;padding:0;margin:0}
.rt button{flex:1;padding:10px;border:1px solid #6e7781;border-radius:10px}
[aria-pressed=true]{box-shadow:inset 0 0 0 2px #1f2328;font-weight:700}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
@media (max-width:480px){.p{inset:0 0 auto!important;width:auto;max-width:none;height:var(--vh,100%);max-height:none;border-radius:0;padding:env(safe-area-inset-top) env(safe-area-inset-right) env(safe-area-inset-bottom) env(safe-area-inset-left)}.o .lc{display:none}}`;
