import { initials } from '../format';

/**
 * An operator's picture, or their initials when they have none. A saved photo is a path the gateway
 * serves (`/v1/avatars/…`, same origin); one just picked in a form is still a data: URL (img-src allows both).
 */
export function Avatar({ name, avatar, size = 'm' }: { name: string; avatar?: string | undefined; size?: 's' | 'm' | 'l' }) {
  if (avatar?.startsWith('/v1/avatars/') || avatar?.startsWith('data:image/')) return <img class={`avatar avatar-${size}`} src={avatar} alt="" />;
  return (
    <span class={`avatar avatar-${size} initials`} aria-hidden="true">
      {initials(name)}
    </span>
  );
}
