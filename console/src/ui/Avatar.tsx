import { initials } from '../format';

/** An operator's picture, or their initials when they have none. Avatars are data: URLs (img-src allows data:). */
export function Avatar({ name, avatar, size = 'm' }: { name: string; avatar?: string | undefined; size?: 's' | 'm' | 'l' }) {
  if (avatar?.startsWith('data:image/')) return <img class={`avatar avatar-${size}`} src={avatar} alt="" />;
  return (
    <span class={`avatar avatar-${size} initials`} aria-hidden="true">
      {initials(name)}
    </span>
  );
}
