import { useEffect, useState } from 'preact/hooks';

/**
 * Hash routes (`#/p/prj_…/devices`): the server serves one page at /console, and a reload or a
 * shared link lands on the same view. Ids in the hash are ids, never a secret.
 */
export type Route =
  { name: 'projects' } | { name: 'metrics' } | { name: 'project'; projectId: string; tab: string; itemId?: string };

export function parseRoute(hash: string): Route {
  const parts = hash
    .replace(/^#\/?/, '')
    .split('/')
    .filter(Boolean)
    .map((p) => decodeURIComponent(p));
  if (parts[0] === 'metrics') return { name: 'metrics' };
  if (parts[0] === 'p' && parts[1])
    return { name: 'project', projectId: parts[1], tab: parts[2] ?? 'overview', itemId: parts[3] };
  return { name: 'projects' };
}

/** The hash of a project view: `href('prj_x', 'messages', 'msg_y')`. */
export function href(projectId: string, tab = 'overview', itemId?: string): string {
  return `#/p/${[projectId, tab, itemId]
    .filter((p): p is string => p !== undefined)
    .map(encodeURIComponent)
    .join('/')}`;
}

export function navigate(hash: string): void {
  if (location.hash !== hash) location.hash = hash;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return route;
}
