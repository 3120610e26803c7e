import { describe, expect, it } from 'vitest';
import { type LinkPart, linkParts, MAX_LINK_CHARS, safeHref } from './links';

const links = (text: string) => linkParts(text).filter((p): p is Extract<LinkPart, { kind: 'link' }> => p.kind === 'link');
const joined = (text: string) => linkParts(text).map((p) => p.text).join('');

describe('linkParts', () => {
  it('finds http, https, www and mailto links and plain addresses, and keeps the text around them', () => {
    const text = 'See https://example.com/a?b=1#c or www.hark.chat, mail mailto:ana@example.com or bo@example.org.';
    expect(links(text)).toEqual([
      { kind: 'link', text: 'https://example.com/a?b=1#c', href: 'https://example.com/a?b=1#c' },
      { kind: 'link', text: 'www.hark.chat', href: 'https://www.hark.chat/' },
      { kind: 'link', text: 'mailto:ana@example.com', href: 'mailto:ana@example.com' },
      { kind: 'link', text: 'bo@example.org', href: 'mailto:bo@example.org' },
    ]);
    expect(joined(text)).toBe(text);
    expect(linkParts(text)[0]).toEqual({ kind: 'text', text: 'See ' });
  });

  it('leaves sentence punctuation and an unmatched closing bracket outside the link, and keeps balanced ones', () => {
    expect(links('(see http://example.com/x).')[0]?.text).toBe('http://example.com/x');
    expect(links('https://en.wikipedia.org/wiki/Hark_(sound)!')[0]?.text).toBe('https://en.wikipedia.org/wiki/Hark_(sound)');
    expect(links('Is it http://a.example?')[0]?.text).toBe('http://a.example');
  });

  it('never links javascript:, data:, vbscript: or file: URLs, in any case or disguise', () => {
    for (const hostile of [
      'javascript:alert(1)',
      'JaVaScRiPt:alert(document.cookie)',
      ' javascript://example.com/%0Aalert(1)',
      'data:text/html,<script>alert(1)</script>',
      'vbscript:msgbox(1)',
      'file:///etc/passwd',
      'xhttps://example.com',
      'java\tscript:alert(1)',
    ]) {
      expect(links(hostile), hostile).toEqual([]);
      expect(joined(hostile)).toBe(hostile);
    }
  });

  it('keeps HTML as text: a link inside markup ends at the quote or bracket, and the markup is never a link', () => {
    const html = '<a href="javascript:alert(1)">x</a><img src=x onerror=alert(1)> <a href="https://ok.example/p">y</a>';
    expect(links(html).map((l) => l.href)).toEqual(['https://ok.example/p']);
    expect(joined(html)).toBe(html);
    const quoted = 'https://example.com/"onmouseover="alert(1)';
    expect(links(quoted)).toEqual([{ kind: 'link', text: 'https://example.com/', href: 'https://example.com/' }]);
  });

  it('normalises what it links: the href is what the URL parser made of it, never the raw text', () => {
    expect(links('http://EXAMPLE.com/a b')[0]?.href).toBe('http://example.com/a');
    expect(links('https://user@javascript:alert(1)')).toEqual([]);
    expect(links('http://')).toEqual([]);
    expect(links('mailto:nobody')).toEqual([]);
  });

  it('leaves a link longer than MAX_LINK_CHARS as text', () => {
    const long = `https://example.com/${'a'.repeat(MAX_LINK_CHARS)}`;
    expect(links(long)).toEqual([]);
    expect(joined(long)).toBe(long);
    expect(safeHref(`https://example.com/${'a'.repeat(MAX_LINK_CHARS - 100)}`)).not.toBeNull();
  });

  it('returns the text as one part when there is no link, and nothing for an empty text', () => {
    expect(linkParts('just words.')).toEqual([{ kind: 'text', text: 'just words.' }]);
    expect(linkParts('')).toEqual([]);
  });
});
