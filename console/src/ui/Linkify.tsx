import { linkParts } from './links';

/** Message text with its http(s) and mailto links clickable: elements, never HTML; each opens in a new tab, sends no referrer and no ranking. */
export function Linkify({ text }: { text: string }) {
  return (
    <>
      {linkParts(text).map((p, i) =>
        p.kind === 'link' ? (
          <a key={i} href={p.href} target="_blank" rel="noopener noreferrer nofollow">
            {p.text}
          </a>
        ) : (
          p.text
        ),
      )}
    </>
  );
}
