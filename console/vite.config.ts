import { defineConfig } from 'vite';
import { pwa } from './pwa';

// The gateway serves the built console at /console under a strict CSP, so the
// build must not inline scripts or styles: assetsInlineLimit 0 keeps even tiny
// assets as files, and the module preload polyfill (an inline script) is off.
export default defineConfig({
  base: '/console/',
  // Icons, manifest and the service worker that caches the shell (pwa.ts).
  plugins: [pwa()],
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: 'es2022',
  },
  server: {
    // `pnpm --filter @hark/console dev` proxies the API to a running gateway.
    proxy: {
      '/v1': { target: 'http://127.0.0.1:8080', ws: true, changeOrigin: false },
    },
  },
});
