/** The SMSGate 3rd-party API (`/compat/smsgate/3rdparty/v1`): services and the pure parts they are built from. */
export { SmsGateAuth, JWT_SCOPES, ALL_SCOPES, type Principal, type TokenResponse, type JwtScope } from './auth.js';
export { SmsGateError } from './errors.js';
export { SmsGateInbox } from './inbox.js';
export { SmsGateMessages, type MessageState } from './messages.js';
export { readSendRequest, type SendRequest } from './message-request.js';
export { SmsGateSettings, sendRateOf } from './settings.js';
export { aggregateState, recipientState, stateHistory, type ProcessState } from './states.js';
export { SmsGateWebhooks, SMSGATE_FOLLOWED_PROJECTS_SQL, type SmsGateWebhook } from './webhooks.js';
export {
  SMSGATE_WEBHOOK_EVENTS,
  smsgateWebhookEvents,
  smsReceivedEvent,
  systemPingEvent,
  smsgateSigningKey,
  signSmsGate,
  smsgateHeaders,
  type MessageChangeLike,
  type RecipientFacts,
  type SmsGateEvent,
} from './webhook-payloads.js';
