// The `WWW-Authenticate` challenge of a registry's 401 (RFC 7235): `Bearer realm="…",service="…",
// scope="…"` (the distribution token flow) or `Basic realm="…"`. The header comes from the
// network, so it is parsed by hand, bounded, and anything unexpected is simply not understood.
// Pure.

export type Challenge =
  | { readonly scheme: 'bearer'; readonly realm: string; readonly service: string | null; readonly scope: string | null }
  | { readonly scheme: 'basic'; readonly realm: string | null };

const MAX_HEADER = 8192;

/** `key="value"` or `key=token` pairs after the scheme; quoted values may hold `\"` and commas. */
function parseParams(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < text.length) {
    while (i < text.length && (text[i] === ' ' || text[i] === ',')) i++;
    const eq = text.indexOf('=', i);
    if (eq === -1) break;
    const key = text.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    let value = '';
    if (text[i] === '"') {
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        value += text[i];
        i++;
      }
      i++;
    } else {
      const end = text.indexOf(',', i);
      value = text.slice(i, end === -1 ? text.length : end).trim();
      i = end === -1 ? text.length : end;
    }
    if (key && !out.has(key)) out.set(key, value);
  }
  return out;
}

/** The first challenge corral can answer, or null. */
export function parseChallenge(header: string | null): Challenge | null {
  if (header === null || header.length > MAX_HEADER) return null;
  const trimmed = header.trim();
  const space = trimmed.indexOf(' ');
  const scheme = (space === -1 ? trimmed : trimmed.slice(0, space)).toLowerCase();
  const params = parseParams(space === -1 ? '' : trimmed.slice(space + 1));
  if (scheme === 'bearer') {
    const realm = params.get('realm');
    if (!realm) return null;
    return { scheme, realm, service: params.get('service') ?? null, scope: params.get('scope') ?? null };
  }
  if (scheme === 'basic') return { scheme, realm: params.get('realm') ?? null };
  return null;
}
