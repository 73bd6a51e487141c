/** The success envelope of docs/api.md. */
export function ok<T>(data: T): { success: true; data: T } {
  return { success: true, data };
}
