import { IsNotEmpty, IsString, Matches, MaxLength } from 'class-validator';
import { JSONSchema } from 'class-validator-jsonschema';
import { TEMPLATE_MAX_LENGTH } from '../../services/templates.js';
import { TEST_CODE_PATTERN, TEST_NUMBER_PATTERN } from '../../services/test-numbers.js';
import { HasCodePlaceholder } from './validators.js';

export class SetTemplateDto {
  @JSONSchema({
    description: 'OTP text; must contain {{code}} ({{pin}} accepted as alias).',
    example: 'Your ACME code: {{code}}',
  })
  @IsString()
  @IsNotEmpty()
  @MaxLength(TEMPLATE_MAX_LENGTH)
  @HasCodePlaceholder()
  text!: string;
}

export class CreateTestNumberDto {
  @JSONSchema({ description: 'E.164 (checked by shape only, so fictional numbers work).', example: '+15555550100' })
  @IsString()
  @Matches(TEST_NUMBER_PATTERN, { message: 'number must be E.164, e.g. +15555550100' })
  number!: string;

  @JSONSchema({
    description: 'The fixed code, 4-12 letters or digits; stored only as a keyed hash, never shown again.',
    example: '123456',
  })
  @IsString()
  @Matches(TEST_CODE_PATTERN, { message: 'code must be 4 to 12 letters or digits' })
  code!: string;
}
