/**
 * Counts SMS segments as a phone does (3GPP TS 23.038): GSM-7 when every character is in the
 * default alphabet or its extension table (extension characters take two septets), else UCS-2.
 * Single part: 160 septets / 70 UTF-16 units; concatenated: 153 / 67 per part (the UDH takes room),
 * and a character is never split across parts (for UCS-2: a visible character, as Android splits).
 */
const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM_EXTENSION = '\f^{}\\[~]|€';

const basic = new Set(GSM_BASIC);
const extension = new Set(GSM_EXTENSION);

export interface SmsParts {
  encoding: 'GSM-7' | 'UCS-2';
  /** Septets (GSM-7) or UTF-16 code units (UCS-2). */
  units: number;
  parts: number;
}

export function countParts(text: string): SmsParts {
  let septets = 0;
  for (const ch of text) {
    if (basic.has(ch)) septets += 1;
    else if (extension.has(ch)) septets += 2;
    else return ucs2(text);
  }
  if (septets <= 160) return { encoding: 'GSM-7', units: septets, parts: 1 };
  return {
    encoding: 'GSM-7',
    units: septets,
    parts: partsOf(
      Array.from(text, (ch) => (extension.has(ch) ? 2 : 1)),
      153,
    ),
  };
}

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

function ucs2(text: string): SmsParts {
  // UTF-16 code units; a surrogate pair (emoji) takes two, as on the air.
  const units = text.length;
  if (units <= 70) return { encoding: 'UCS-2', units, parts: 1 };
  // Android splits between whole visible characters (an emoji with a skin tone, a ZWJ sequence,
  // a letter with combining marks), and within one only if it alone is longer than a part.
  const sizes = Array.from(graphemes.segment(text), ({ segment }) =>
    segment.length <= 67 ? [segment.length] : Array.from(segment, (ch) => ch.length),
  ).flat();
  return { encoding: 'UCS-2', units, parts: partsOf(sizes, 67) };
}

/**
 * Parts of a concatenated message of characters of the given sizes. A phone never splits a
 * character across two parts (an escape pair such as €, a surrogate pair): one that does not fit
 * opens the next part.
 */
function partsOf(sizes: number[], perPart: number): number {
  let parts = 1;
  let used = 0;
  for (const size of sizes) {
    if (used + size > perPart) {
      parts++;
      used = 0;
    }
    used += size;
  }
  return parts;
}
