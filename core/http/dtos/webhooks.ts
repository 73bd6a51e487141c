import { ArrayMaxSize, IsArray, IsIn, IsOptional, IsString, IsUrl, MaxLength } from 'class-validator';
import { JSONSchema } from 'class-validator-jsonschema';
import { ALL_EVENTS, WEBHOOK_EVENTS } from '../../webhook-events.js';

export class CreateWebhookDto {
  @JSONSchema({
    description:
      'http(s) URL receiving the events. Refused when its host resolves to a loopback, private, link-local or metadata address (unless SMX_WEBHOOK_ALLOW_PRIVATE=true).',
    example: 'https://example.com/smx-webhooks',
  })
  @IsString()
  @MaxLength(2000)
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true, require_tld: false })
  url!: string;

  @JSONSchema({
    description: `Event types to receive (${WEBHOOK_EVENTS.join(', ')}), or ["*"] for all. Default: all.`,
    example: ['message.delivered', 'verification.verified'],
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(WEBHOOK_EVENTS.length + 1)
  @IsIn([...WEBHOOK_EVENTS, ALL_EVENTS], {
    each: true,
    message: `each event must be one of ${[...WEBHOOK_EVENTS, ALL_EVENTS].join(', ')}`,
  })
  events?: string[];
}
