import { AdminApiKeys } from './AdminApiKeys';
import { AdminWebhooks } from './AdminWebhooks';

/** Admin → Integrations: API keys for the REST API, and each site's webhooks. */
export function AdminIntegrations() {
  return (
    <section class="admin-section integrations">
      <AdminApiKeys />
      <AdminWebhooks />
    </section>
  );
}
