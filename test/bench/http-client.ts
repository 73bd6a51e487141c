/** Minimal JSON client for the admin and /v1 APIs during setup (not used for load). */

export interface ApiAnswer<T = any> {
  status: number;
  body: { success: boolean; data: T; error?: { code: string; message: string } } | undefined;
}

export class SmxClient {
  constructor(
    readonly baseUrl: string,
    private readonly adminToken: string,
  ) {}

  async call<T = any>(
    method: string,
    path: string,
    body: unknown,
    headers: Record<string, string>,
  ): Promise<ApiAnswer<T>> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: ApiAnswer<T>['body'];
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: response.status, body: parsed };
  }

  admin<T = any>(method: string, path: string, body?: unknown): Promise<ApiAnswer<T>> {
    return this.call<T>(method, path, body, { authorization: `Bearer ${this.adminToken}` });
  }

  api<T = any>(key: string, method: string, path: string, body?: unknown): Promise<ApiAnswer<T>> {
    return this.call<T>(method, path, body, { 'x-smx-api-key': key });
  }

  /** The `data` of an answer with the expected status, else an error naming the call and the answer. */
  static expect<T>(what: string, answer: ApiAnswer<T>, status: number): T {
    if (answer.status !== status || !answer.body?.success) {
      throw new Error(`${what}: expected ${status}, got ${answer.status} ${JSON.stringify(answer.body)}`);
    }
    return answer.body.data;
  }
}

/** Polls `check` every `everyMs` until it returns true or `timeoutMs` passes; returns whether it did. */
export async function waitFor(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  everyMs = 200,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (
      await Promise.resolve()
        .then(check)
        .catch(() => false)
    )
      return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
