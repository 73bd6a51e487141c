import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { apiError } from '../../errors.js';
import type { RuntimeConfig } from '../../secrets.js';
import { acceptFormBodies, requestParams } from '../compat-input.js';

/** An answer of RabbitMQ's HTTP auth backend protocol (a plain-text body). */
export type MqttAuthAnswer = 'allow' | 'deny';

/** One request's fields, as RabbitMQ sent them. */
export type MqttAuthParams = Readonly<Record<string, string | undefined>>;

/**
 * The four questions of RabbitMQ's HTTP auth backend. The broker module answers them with the
 * embedded broker's checks (`rabbitMqAuth` in broker/rabbitmq-auth.ts); the composition root
 * hands them in, as core does not import the broker.
 */
export interface MqttAuthBackend {
  user(params: MqttAuthParams): Promise<MqttAuthAnswer>;
  vhost(params: MqttAuthParams): MqttAuthAnswer;
  resource(params: MqttAuthParams): MqttAuthAnswer;
  topic(params: MqttAuthParams): MqttAuthAnswer;
}

/** What mqttAuthHttpRoutes needs: the config, and the answers when SMX_MQTT_AUTH_HTTP_TOKEN is set. */
export interface MqttAuthHttpRouteDeps {
  config: RuntimeConfig;
  mqttAuth?: MqttAuthBackend;
}

const QUESTIONS = ['user', 'vhost', 'resource', 'topic'] as const;

const digest = (value: string) => createHash('sha256').update(value).digest();

/** The string fields of the form body and the query (GET or POST, as RabbitMQ's `auth_http.http_method` says). */
function paramsOf(request: FastifyRequest): MqttAuthParams {
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(requestParams(request))) {
    if (typeof value === 'string') fields[name] = value;
  }
  return fields;
}

/**
 * RabbitMQ's HTTP auth backend (rabbitmq_auth_backend_http) at
 * `/mqtt-auth/{SMX_MQTT_AUTH_HTTP_TOKEN}/user|vhost|resource|topic`, registered only when the
 * token is set. Only RabbitMQ knows the token; any other token gets the answer of an unknown
 * route, so the routes cannot be told apart from absent ones. Each answer is `200 allow` or
 * `200 deny` in plain text, as the plugin reads it; a device check that could not be made (the
 * database unreachable) is 503, which RabbitMQ 3.10 answers the phone with CONNACK 4. Hidden
 * from the OpenAPI document: it is RabbitMQ's protocol, not part of SMX's API.
 */
export async function mqttAuthHttpRoutes(app: FastifyInstance, deps: MqttAuthHttpRouteDeps): Promise<void> {
  const settings = deps.config.mqttAuthHttp;
  if (!settings) return;
  const backend = deps.mqttAuth;
  if (!backend) throw new Error('SMX_MQTT_AUTH_HTTP_TOKEN is set, but no MQTT auth backend was wired for this process');
  const expected = digest(settings.token);
  acceptFormBodies(app);

  for (const question of QUESTIONS) {
    app.route<{ Params: { token: string } }>({
      method: ['GET', 'POST'],
      url: `/mqtt-auth/:token/${question}`,
      schema: { hide: true },
      handler: async (request, reply) => {
        if (!timingSafeEqual(digest(request.params.token), expected)) {
          throw apiError('NOT_FOUND', { message: `No route ${request.method} ${request.url.split('?')[0]}.` });
        }
        const params = paramsOf(request);
        const answer =
          question === 'user'
            ? await backend.user(params).catch((error: unknown) => {
                throw apiError('UNAVAILABLE', {
                  message: 'The device credentials could not be checked.',
                  cause: error,
                });
              })
            : backend[question](params);
        return reply.type('text/plain; charset=utf-8').send(answer);
      },
    });
  }
}
