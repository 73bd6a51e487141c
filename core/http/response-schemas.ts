/**
 * JSON Schemas of the `data` the API answers, shared by more than one route (documentation only:
 * the serializer is JSON.stringify, see server.ts). Route-local shapes stay in their route file.
 *
 * Every field listed is in every answer (`null` where there is no value): the OpenAPI document
 * marks object fields `required` unless a schema lists its own `required` (openapi.ts
 * `requireFields`). Examples are what a real answer holds, so the UI and generated clients show
 * believable values.
 */

/** Realistic example values, shared with the route files. */
export const EXAMPLES = {
  projectId: 'prj_pwTjZX_U_xEVHnTktu4hbg',
  keyId: 'key_VGNLaXL2SW7zbRwI3fdfDg',
  deviceId: 'dev_a3UpGdIy30uilSzOHqkNwg',
  verificationId: 'ver_-mNYQE26ozocjCo9d3aovg',
  messageId: 'msg_S-2BWPxUszs15suEpjkp6Q',
  batchId: 'bat_oPjDVTEwpxKmhlwOZEsSag',
  rentalId: 'rnt_BGKNMRb0_uRCxEkO24aS0A',
  webhookId: 'whk_jriikQYm6Just-PrSmP2-g',
  eventId: 'evt_8sNwgSF9ZyjAA2Xj2fJ-sw',
  phone: '+4915112345678',
  createdAt: '2026-11-21T10:00:00.000Z',
  expiresAt: '2026-11-21T10:05:00.000Z',
  later: '2026-11-21T10:00:04.180Z',
  cursor: 'eyJ0IjoiMjAyNi0xMS0yMVQxMDowMDowMC4wMDBaIn0',
} as const;

const str = { type: 'string' } as const;
const nullableStr = { type: 'string', nullable: true } as const;
const time = { type: 'string', format: 'date-time', example: EXAMPLES.createdAt } as const;
const nullableTime = { type: 'string', format: 'date-time', nullable: true, example: EXAMPLES.later } as const;
const int = { type: 'integer' } as const;
const count = (example: number) => ({ type: 'integer', minimum: 0, example }) as const;

/** An id with its type prefix (spec: opaque, 128 random bits). */
export function idOf(example: string, description?: string): object {
  return { type: 'string', description: description ?? `${example.slice(0, example.indexOf('_') + 1)}...`, example };
}

/** A map of names to whole numbers (counts per status, limits per prefix). */
const counts = { type: 'object', additionalProperties: { type: 'integer' } } as const;

export const projectSchema = {
  type: 'object',
  properties: {
    id: idOf(EXAMPLES.projectId),
    name: { type: 'string', example: 'Shop backend' },
    settings: {
      type: 'object',
      properties: {
        codeLength: { ...int, example: 6 },
        codeType: { type: 'string', enum: ['numeric', 'alpha', 'alphanumeric'], example: 'numeric' },
        ttl: { ...int, example: 300 },
        maxAttempts: { ...int, example: 5 },
        defaultLanguage: { type: 'string', example: 'en' },
        routing: { type: 'string', example: 'active-device' },
        otpLeaseSeconds: { ...int, example: 30 },
        allowedCountries: { type: 'array', items: str, example: [] },
        rateLimits: {
          type: 'object',
          properties: {
            perNumber: { ...int, example: 5 },
            perNumberWindowSeconds: { ...int, example: 600 },
            perProjectPerMinute: { ...int, example: 600 },
            perCountryPrefix: { ...counts, example: { '+234': 50 } },
            perCountryPrefixWindowSeconds: { ...int, example: 3600 },
            resendsPerVerification: { ...int, example: 3 },
            resendIntervalSeconds: { ...int, example: 30 },
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
    id: idOf(EXAMPLES.keyId),
    projectId: idOf(EXAMPLES.projectId),
    name: { type: 'string', example: 'backend' },
    prefix: {
      type: 'string',
      description: 'The first characters of the key, to tell keys apart.',
      example: 'smx_sIWizS',
    },
    createdAt: time,
    lastUsedAt: nullableTime,
  },
};

const sim = {
  type: 'object',
  properties: {
    slot: { ...int, example: 0 },
    number: { ...nullableStr, example: '+14155550100' },
    carrier: { ...nullableStr, example: 'T-Mobile' },
    rentable: { type: 'boolean', example: false },
  },
};

/** A device with its presence (admin views). */
export const deviceSchema = {
  type: 'object',
  properties: {
    id: idOf(EXAMPLES.deviceId),
    projectId: idOf(EXAMPLES.projectId),
    name: { type: 'string', example: 'Pixel 7' },
    model: { ...nullableStr, example: 'GP4BC' },
    appVersion: { ...nullableStr, example: '1.0.0' },
    transport: { type: 'string', enum: ['mqtt', 'smsgate'] },
    status: { type: 'string', enum: ['active', 'standby', 'unlinked'] },
    active: { type: 'boolean' },
    sendRatePerMinute: { ...int, example: 30 },
    sims: { type: 'array', items: sim },
    capabilities: {
      type: 'array',
      items: { type: 'string', enum: ['data-sms', 'encrypted-content'] },
      description:
        'What the phone can do beyond texts: `data-sms` = binary SMS (declared in the link request or presence); `encrypted-content` = it decrypts SMSGate end-to-end encrypted content (the SMSGate app, by its transport).',
      example: ['data-sms'],
    },
    linkedAt: time,
    unlinkedAt: { ...nullableTime, example: null },
    online: { type: 'boolean' },
    lastSeenAt: nullableTime,
    battery: { type: 'number', nullable: true, example: 87 },
  },
};

export const templateSchema = {
  type: 'object',
  properties: {
    language: { type: 'string', example: 'en' },
    text: { type: 'string', example: 'Your ACME code: {{code}}' },
    custom: { type: 'boolean', description: 'false: the built-in text' },
  },
};

export const testNumberSchema = {
  type: 'object',
  properties: { number: { type: 'string', description: 'E.164', example: '+15555550100' }, createdAt: time },
};

const nullableAt = (example: string | null) => ({ type: 'string', format: 'date-time', nullable: true, example });

/** A message as GET /v1/messages/:id shows it (an OTP's text never); also the console's admin reads. */
export const messageSchema = {
  type: 'object',
  properties: {
    messageId: { type: 'string', example: EXAMPLES.messageId },
    kind: { type: 'string', enum: ['otp', 'sms'], example: 'sms' },
    status: {
      type: 'string',
      enum: ['QUEUED', 'DISPATCHED', 'SENT', 'DELIVERED', 'FAILED', 'EXPIRED'],
      example: 'DELIVERED',
    },
    to: { type: 'string', example: EXAMPLES.phone },
    message: {
      type: 'string',
      description: "A custom text SMS only (an OTP's text, which holds its code, is never shown).",
      example: 'Your parcel arrives today between 2 and 4 pm.',
    },
    data: {
      type: 'string',
      description: 'A binary (data) SMS only, instead of `message`: its payload, base64.',
      example: 'SGVsbG8=',
    },
    dataPort: { type: 'integer', description: 'A binary SMS only: its destination port.', example: 8200 },
    parts: { type: 'integer', example: 1 },
    deviceId: { type: 'string', nullable: true, example: EXAMPLES.deviceId },
    simSlot: { type: 'integer', nullable: true, example: 0 },
    verificationId: { type: 'string', nullable: true, example: null },
    batchId: { type: 'string', nullable: true, example: null },
    error: {
      type: 'string',
      nullable: true,
      description: 'Why it FAILED (e.g. RADIO_OFF, EXPIRED, CANCELED after POST /v1/messages/{id}/cancel).',
      example: null,
    },
    priority: {
      type: 'integer',
      description: "Dispatch order among the phone's waiting messages: higher first (OTPs 128, SMS -128..127).",
      example: 0,
    },
    scheduleAt: {
      ...nullableAt(null),
      description: 'The time it was held until (send-sms `scheduleAt`); null when not scheduled.',
    },
    metadata: {
      type: 'object',
      nullable: true,
      description: 'Your metadata, as sent.',
      example: { orderId: 'A-1042' },
    },
    createdAt: { type: 'string', format: 'date-time', example: EXAMPLES.createdAt },
    expiresAt: { type: 'string', format: 'date-time', example: '2026-11-22T10:00:00.000Z' },
    dispatchedAt: nullableAt('2026-11-21T10:00:00.060Z'),
    sentAt: nullableAt('2026-11-21T10:00:02.410Z'),
    deliveredAt: nullableAt('2026-11-21T10:00:04.180Z'),
    failedAt: nullableAt(null),
  },
  // `message` is left out of OTP messages.
  required: [
    'messageId',
    'kind',
    'status',
    'to',
    'parts',
    'deviceId',
    'simSlot',
    'verificationId',
    'batchId',
    'error',
    'metadata',
    'priority',
    'scheduleAt',
    'createdAt',
    'expiresAt',
    'dispatchedAt',
    'sentAt',
    'deliveredAt',
    'failedAt',
  ],
};

/** A challenge as every /v1 OTP route answers it (never the code). */
export const verificationSchema = {
  type: 'object',
  properties: {
    verificationId: idOf(EXAMPLES.verificationId),
    status: { type: 'string', enum: ['PENDING', 'VERIFIED', 'FAILED', 'EXPIRED', 'CANCELED'], example: 'PENDING' },
    to: { type: 'string', description: 'E.164', example: EXAMPLES.phone },
    countryIso: { ...nullableStr, example: 'DE' },
    numberValid: { type: 'boolean', example: true },
    test: { type: 'boolean', description: 'A test number: no SMS, verified with its fixed code.', example: false },
    messageId: {
      ...nullableStr,
      description: 'The SMS carrying the code (null for a test number).',
      example: EXAMPLES.messageId,
    },
    deviceId: {
      ...nullableStr,
      description: 'The phone it was routed to (null for a test number).',
      example: EXAMPLES.deviceId,
    },
    attempts: count(0),
    maxAttempts: { ...int, example: 5 },
    createdAt: time,
    expiresAt: { ...time, example: EXAMPLES.expiresAt },
    verifiedAt: { ...nullableTime, example: null },
    canceledAt: { ...nullableTime, example: null },
    metadata: {
      type: 'object',
      nullable: true,
      description: 'Your metadata, as sent.',
      example: { orderId: 'A-1042' },
    },
  },
};

export const verifyResultSchema = {
  type: 'object',
  required: ['verified', 'status', 'verificationId', 'attempts', 'maxAttempts'],
  properties: {
    verified: { type: 'boolean', example: true },
    status: { type: 'string', enum: ['VERIFIED', 'PENDING', 'FAILED'], example: 'VERIFIED' },
    verificationId: idOf(EXAMPLES.verificationId),
    attempts: count(1),
    maxAttempts: { ...int, example: 5 },
    verifiedAt: { ...time, description: 'Right code only.', example: EXAMPLES.later },
    attemptsRemaining: { type: 'integer', description: 'Wrong code only.', example: 4 },
  },
};

export const smsAcceptedSchema = {
  type: 'object',
  properties: {
    messageId: idOf(EXAMPLES.messageId),
    status: { type: 'string', enum: ['QUEUED'] },
    to: { type: 'string', description: 'E.164', example: EXAMPLES.phone },
    parts: { ...int, description: 'GSM-7 / UCS-2 segments, as a phone counts them (a data SMS is 1).', example: 1 },
    deviceId: idOf(EXAMPLES.deviceId),
    scheduleAt: {
      ...nullableTime,
      description: 'When it will be handed to the phone (`scheduleAt`); null: at once.',
      example: null,
    },
    createdAt: time,
    expiresAt: {
      ...time,
      description: 'Not sent by then: EXPIRED (the TTL counts from `scheduleAt`).',
      example: '2026-11-22T10:00:00.000Z',
    },
  },
};

export const bulkAcceptedSchema = {
  type: 'object',
  properties: {
    batchId: idOf(EXAMPLES.batchId),
    accepted: count(2),
    rejected: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          index: count(2),
          code: { type: 'string', example: 'INVALID_PHONE_NUMBER' },
          message: { type: 'string', example: 'The phone number is not a valid, dialable number.' },
        },
      },
    },
  },
};

export const batchSchema = {
  type: 'object',
  properties: {
    batchId: idOf(EXAMPLES.batchId),
    createdAt: time,
    total: count(3),
    accepted: count(2),
    rejected: count(1),
    counts: {
      ...counts,
      description: 'Messages per status (QUEUED, DISPATCHED, SENT, DELIVERED, FAILED, EXPIRED).',
      example: { QUEUED: 0, DISPATCHED: 0, SENT: 1, DELIVERED: 1, FAILED: 0, EXPIRED: 0 },
    },
  },
};

export const projectStatusSchema = {
  type: 'object',
  properties: {
    ready: {
      type: 'boolean',
      description: 'A device is linked and online and the queue backend answers.',
      example: true,
    },
    device: {
      type: 'object',
      properties: {
        linked: { type: 'boolean', example: true },
        id: { ...nullableStr, example: EXAMPLES.deviceId },
        online: { type: 'boolean', example: true },
        lastSeenAt: nullableTime,
        battery: { type: 'number', nullable: true, example: 87 },
      },
    },
    queue: { type: 'object', properties: { waiting: count(0), active: count(1), delayed: count(0), failed: count(0) } },
  },
};

const otpFigures = {
  type: 'object',
  properties: {
    requested: count(120),
    sent: count(118),
    delivered: count(115),
    failed: count(2),
    verified: count(97),
    expired: count(21),
    conversionRate: { type: 'number', description: 'verified / requested, 0-1.', example: 0.81 },
  },
};
const smsFigures = {
  type: 'object',
  properties: { queued: count(40), sent: count(40), delivered: count(39), failed: count(0), expired: count(0) },
};

export const statsSchema = {
  type: 'object',
  properties: {
    from: { ...time, example: '2026-11-20T10:00:00.000Z' },
    to: { ...time, example: '2026-11-21T11:00:00.000Z' },
    interval: { type: 'string', enum: ['hour', 'day'] },
    totals: { type: 'object', properties: { otp: otpFigures, sms: smsFigures } },
    series: { type: 'array', items: { type: 'object', properties: { start: time, otp: otpFigures, sms: smsFigures } } },
  },
};

export const inboxSchema = {
  type: 'object',
  properties: {
    messages: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string', example: 'sms_c2Cq1XWkG7sQ0n9lN2yR3A' },
          deviceId: idOf(EXAMPLES.deviceId),
          simSlot: { type: 'integer', nullable: true, example: 0 },
          from: { type: 'string', example: '+14155550123' },
          body: { type: 'string', example: 'See you at 8?' },
          receivedAt: time,
        },
      },
    },
    nextCursor: { ...nullableStr, description: 'Pass as `cursor` for the next page; null on the last.', example: null },
  },
};

/** What the phone gets from POST /v1/devices/link (docs/device-protocol.md §1). */
export const linkResultSchema = {
  type: 'object',
  properties: {
    deviceId: idOf(EXAMPLES.deviceId),
    projectId: idOf(EXAMPLES.projectId),
    mqtt: {
      type: 'object',
      properties: {
        url: { type: 'string', example: 'mqtt://smx.example.com:1883' },
        wsUrl: { type: 'string', example: 'ws://smx.example.com:8083/mqtt' },
        clientId: idOf(EXAMPLES.deviceId, 'The device id.'),
        username: idOf(EXAMPLES.deviceId, 'The device id.'),
        password: {
          type: 'string',
          description: 'The device secret, shown once.',
          example: 'QEnLDsqnAZ4PYikgD4ZFf5tnuqt856u9olgg6XPJcEc',
        },
      },
    },
    topics: {
      type: 'object',
      properties: Object.fromEntries(
        ['outbox', 'control', 'status', 'inbox', 'presence'].map((topic) => [
          topic,
          { type: 'string', example: `smx/v1/devices/${EXAMPLES.deviceId}/${topic}` },
        ]),
      ),
    },
  },
};

/** `{ id, <flag>: true }` of a delete, revoke or unlink. */
export function doneSchema(flag: string, idField = 'id'): object {
  return { type: 'object', properties: { [idField]: str, [flag]: { type: 'boolean', enum: [true] } } };
}
