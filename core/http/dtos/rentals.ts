import { IsInt, IsISO31661Alpha2, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { JSONSchema } from 'class-validator-jsonschema';
import { RENTAL_LIMITS } from '../../services/rentals.js';

const { duration } = RENTAL_LIMITS;

export class ListNumbersQuery {
  @JSONSchema({ description: 'ISO 3166-1 alpha-2 country to filter by (e.g. US, GB, DE).', example: 'US' })
  @IsOptional()
  @IsISO31661Alpha2()
  country?: string;
}

@JSONSchema({
  'x-examples': { rent: { summary: 'A US number for 20 minutes', value: { country: 'US', service: 'facebook' } } },
})
export class RentNumberDto {
  @JSONSchema({ description: 'ISO 3166-1 alpha-2 country of the number to rent.', example: 'US' })
  @IsString()
  @IsISO31661Alpha2()
  country!: string;

  @JSONSchema({
    description: 'Your label for what the number is rented for (stored, echoed back).',
    example: 'facebook',
  })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  @Matches(/^[^\u0000-\u001f]*$/, { message: 'service must not contain control characters' })
  service?: string;

  @JSONSchema({
    description: `Seconds the rental lasts, ${duration.min}-${duration.max}. Default ${duration.default} (20 minutes).`,
    example: 1200,
  })
  @IsOptional()
  @IsInt()
  @Min(duration.min)
  @Max(duration.max)
  duration?: number;
}
