/**
 * Nesting limit for JSON that SMX accepts from outside (HTTP bodies and device publishes).
 *
 * Validation (class-validator, class-transformer) and every other consumer walk values
 * recursively: a body a few KB long but thousands of levels deep overflows the call stack. So the
 * depth is checked first, here, without recursion.
 */

/**
 * The deepest nesting any SMX payload needs is a bulk entry's `metadata` (body → messages → entry →
 * metadata → …); 32 leaves room for metadata objects 28 levels deep.
 * @defaultValue 32
 */
export const MAX_JSON_DEPTH = 32;

/**
 * True when `value` nests objects/arrays deeper than `maxDepth` (a scalar has depth 0, `{}` 1).
 * Iterative, and stops at the first level over the limit.
 */
export function exceedsJsonDepth(value: unknown, maxDepth: number = MAX_JSON_DEPTH): boolean {
  if (value === null || typeof value !== 'object') return false;
  const stack: Array<[object, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > maxDepth) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}

/** What makes a JSON value unfit to accept, and where (`sims[0].carrier`, `body` for the whole). */
export interface JsonProblem {
  field: string;
  message: string;
}

/**
 * The first reason SMX cannot take a parsed JSON value: nested deeper than `maxDepth`, or a
 * string (value or key) that PostgreSQL cannot store — a NUL character (text and jsonb refuse
 * it) or an unpaired UTF-16 surrogate (jsonb refuses `\ud800`). Iterative, like
 * {@link exceedsJsonDepth}; undefined when the value is fine.
 */
export function jsonProblem(value: unknown, maxDepth: number = MAX_JSON_DEPTH): JsonProblem | undefined {
  const stack: Array<[unknown, number, string]> = [[value, 0, '']];
  while (stack.length > 0) {
    const [node, depth, path] = stack.pop()!;
    if (typeof node === 'string') {
      const bad = unstorable(node);
      if (bad) return { field: path || 'body', message: bad };
      continue;
    }
    if (node === null || typeof node !== 'object') continue;
    if (depth + 1 > maxDepth) return { field: 'body', message: `nested deeper than ${maxDepth} levels` };
    if (Array.isArray(node)) {
      node.forEach((child, i) => stack.push([child, depth + 1, `${path}[${i}]`]));
      continue;
    }
    for (const [key, child] of Object.entries(node)) {
      const field = path ? `${path}.${key}` : key;
      const bad = unstorable(key);
      if (bad) return { field, message: `the key ${bad}` };
      stack.push([child, depth + 1, field]);
    }
  }
  return undefined;
}

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function unstorable(text: string): string | undefined {
  if (text.includes('\u0000')) return 'contains a NUL character';
  if (UNPAIRED_SURROGATE.test(text)) return 'contains an unpaired UTF-16 surrogate';
  return undefined;
}
