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
