/**
 * Behind Debian's nginx, configured with the README's own nginx block (src/nginx.ts): the flow of
 * src/proxy-flow.ts over https:// in Chromium.
 */
import { startNginx } from './src/nginx';
import { proxySuite } from './src/proxy-flow';

// The README's block redirects with `return 301 https://$host$request_uri` ($host has no port).
proxySuite({ start: startNginx, redirect: () => ({ status: 301, location: 'https://localhost/console/' }) });
