import { IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { JSONSchema } from 'class-validator-jsonschema';

/** `?limit=&cursor=` of a cursor-paginated list (the range and the cursor's list: pageProblems). */
export class PageQuery {
  @JSONSchema({ description: 'Page size, 1-200. Default 50.', example: '50' })
  @IsOptional()
  @Matches(/^\d+$/, { message: 'limit must be a whole number from 1 to 200' })
  limit?: string;

  @JSONSchema({
    description: 'The `nextCursor` of the previous page.',
    example: 'eyJ0IjoiMjAyNi0xMS0yMVQxMDowMDowMC4wMDBaIn0',
  })
  @IsOptional()
  @IsString()
  @MaxLength(64, { message: 'cursor is not one this API returned' })
  cursor?: string;
}

export class WebhookDeliveriesQuery extends PageQuery {
  @JSONSchema({ description: 'Only the attempts of this event (evt_...).', example: 'evt_8sNwgSF9ZyjAA2Xj2fJ-sw' })
  @IsOptional()
  @IsString()
  eventId?: string;
}
