/**
 * Behind Debian's Caddy, configured with the README's own Caddyfile (src/caddy.ts): the flow of
 * src/proxy-flow.ts over https:// in Chromium.
 */
import { startCaddy } from './src/caddy';
import { proxySuite } from './src/proxy-flow';

// Caddy's automatic redirect: permanent, keeping the method (308), to https://$host$uri.
proxySuite({ start: startCaddy, redirect: () => ({ status: 308, location: 'https://localhost/console/' }) });
