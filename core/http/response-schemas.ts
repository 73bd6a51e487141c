/**
 * JSON Schemas of the `data` the API answers, shared by more than one route (documentation only:
 * the serializer is JSON.stringify, see server.ts). Route-local shapes stay in their route file.
 */

const str = { type: 'string' } as const;
const nullableStr = { type: 'string', nullable: true } as const;
const time = { type: 'string', format: 'date-time' } as const;
const nullableTime = { type: 'string', format: 'date-time', nullable: true } as const;
const int = { type: 'integer' } as const;

/** A map of names to whole numbers (counts per status, limits per prefix). */
const counts = { type: 'object', additionalProperties: { type: 'integer' } } as const;

export const projectSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', description: 'prj_...' },
    name: str,
    settings: {
      type: 'object',
      properties: {
        codeLength: int, codeType: { type: 'string', enum: ['numeric', 'alpha', 'alphanumeric'] }, ttl: int, maxAttempts: int,
        defaultLanguage: str, routing: str, otpLeaseSeconds: int, allowedCountries: { type: 'array', items: str },
        rateLimits: {
          type: 'object',
          properties: {
            perNumber: int, perNumberWindowSeconds: int, perProjectPerMinute: int, perCountryPrefix: counts,
            perCountryPrefixWindowSeconds: int, resendsPerVerification: int, resendIntervalSeconds: int,
          },
        },
      },
    },
    createdAt: time,
    updatedAt: time,
  },
};

export const apiKeySchema = {
  type: 'object',
  properties: {
    id: { type: 'string', description: 'key_...' }, projectId: str, name: str,
    prefix: { type: 'string', description: 'The first characters of the key, to tell keys apart.' }, createdAt: time, lastUsedAt: nullableTime,
  },
};

const sim = { type: 'object', properties: { slot: int, number: nullableStr, carrier: nullableStr, rentable: { type: 'boolean' } } };

/** A device with its presence (admin views). */
export const deviceSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', description: 'dev_...' }, projectId: str, name: str, model: nullableStr, appVersion: nullableStr,
    transport: { type: 'string', enum: ['mqtt', 'smsgate'] }, status: { type: 'string', enum: ['active', 'standby', 'unlinked'] },
    active: { type: 'boolean' }, sendRatePerMinute: int, sims: { type: 'array', items: sim }, linkedAt: time, unlinkedAt: nullableTime,
    online: { type: 'boolean' }, lastSeenAt: nullableTime, battery: { type: 'number', nullable: true },
  },
};

export const templateSchema = {
  type: 'object',
  properties: { language: str, text: str, custom: { type: 'boolean', description: 'false: the built-in text' } },
};

export const testNumberSchema = { type: 'object', properties: { number: { type: 'string', description: 'E.164' }, createdAt: time } };

export const verifyResultSchema = {
  type: 'object',
  properties: {
    verified: { type: 'boolean' }, status: { type: 'string', enum: ['VERIFIED', 'PENDING', 'FAILED'] }, verificationId: str,
    attempts: int, maxAttempts: int, verifiedAt: { ...time, description: 'Right code only.' },
    attemptsRemaining: { type: 'integer', description: 'Wrong code only.' },
  },
};

export const smsAcceptedSchema = {
  type: 'object',
  properties: {
    messageId: str, status: { type: 'string', enum: ['QUEUED'] }, to: { type: 'string', description: 'E.164' }, parts: int,
    deviceId: str, createdAt: time, expiresAt: time,
  },
};

export const bulkAcceptedSchema = {
  type: 'object',
  properties: {
    batchId: { type: 'string', description: 'bat_...' }, accepted: int,
    rejected: { type: 'array', items: { type: 'object', properties: { index: int, code: str, message: str } } },
  },
};

export const batchSchema = {
  type: 'object',
  properties: {
    batchId: str, createdAt: time, total: int, accepted: int, rejected: int,
    counts: { ...counts, description: 'Messages per status (QUEUED, DISPATCHED, SENT, DELIVERED, FAILED, EXPIRED).' },
  },
};

export const projectStatusSchema = {
  type: 'object',
  properties: {
    ready: { type: 'boolean', description: 'A device is linked and online and the queue backend answers.' },
    device: { type: 'object', properties: { linked: { type: 'boolean' }, id: nullableStr, online: { type: 'boolean' }, lastSeenAt: nullableTime, battery: { type: 'number', nullable: true } } },
    queue: { type: 'object', properties: { waiting: int, active: int, delayed: int, failed: int } },
  },
};

const otpFigures = {
  type: 'object',
  properties: {
    requested: int, sent: int, delivered: int, failed: int, verified: int, expired: int,
    conversionRate: { type: 'number', description: 'verified / requested, 0-1.' },
  },
};
const smsFigures = { type: 'object', properties: { queued: int, sent: int, delivered: int, failed: int, expired: int } };

export const statsSchema = {
  type: 'object',
  properties: {
    from: time, to: time, interval: { type: 'string', enum: ['hour', 'day'] },
    totals: { type: 'object', properties: { otp: otpFigures, sms: smsFigures } },
    series: { type: 'array', items: { type: 'object', properties: { start: time, otp: otpFigures, sms: smsFigures } } },
  },
};

export const inboxSchema = {
  type: 'object',
  properties: {
    messages: {
      type: 'array',
      items: { type: 'object', properties: { id: str, deviceId: str, simSlot: { type: 'integer', nullable: true }, from: str, body: str, receivedAt: time } },
    },
    nextCursor: nullableStr,
  },
};

/** What the phone gets from POST /v1/devices/link (spec/device-protocol.md §1). */
export const linkResultSchema = {
  type: 'object',
  properties: {
    deviceId: str, projectId: str,
    mqtt: { type: 'object', properties: { url: str, wsUrl: str, clientId: str, username: str, password: { type: 'string', description: 'Shown once.' } } },
    topics: { type: 'object', properties: { outbox: str, control: str, status: str, inbox: str, presence: str } },
  },
};

/** `{ id, <flag>: true }` of a delete, revoke or unlink. */
export function doneSchema(flag: string, idField = 'id'): object {
  return { type: 'object', properties: { [idField]: str, [flag]: { type: 'boolean', enum: [true] } } };
}
