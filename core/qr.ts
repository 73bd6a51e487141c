import QRCode from 'qrcode';

/** The QR payload of device-protocol.md §1: compact JSON, no spaces. */
export function linkQrPayload(server: string, token: string): string {
  return JSON.stringify({ v: 1, server, token });
}

/** The payload as an SVG document and a PNG data URL, for the admin UI or a terminal. */
export async function renderQr(payload: string): Promise<{ payload: string; svg: string; pngDataUrl: string }> {
  const [svg, pngDataUrl] = await Promise.all([
    QRCode.toString(payload, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }),
    QRCode.toDataURL(payload, { errorCorrectionLevel: 'M', margin: 2, scale: 6 }),
  ]);
  return { payload, svg, pngDataUrl };
}
