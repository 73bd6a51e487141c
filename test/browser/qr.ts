/** Reads a QR code from a PNG screenshot, as a phone's camera would read it from the screen. */
import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';

type Decode = typeof import('jsqr').default;
// jsqr is a CommonJS bundle whose `default` is set on module.exports: the function is one level down.
const jsQR = ((jsQRModule as unknown as { default?: Decode }).default ?? jsQRModule) as Decode;

/** The text the QR code in `png` encodes; throws when none is found. */
export function decodeQr(png: Buffer): string {
  const image = PNG.sync.read(png);
  const found = jsQR(
    new Uint8ClampedArray(image.data.buffer, image.data.byteOffset, image.data.byteLength),
    image.width,
    image.height,
  );
  if (!found) throw new Error(`no QR code found in a ${image.width}x${image.height} screenshot`);
  return found.data;
}
