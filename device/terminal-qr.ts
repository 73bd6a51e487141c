/** Shows a link QR code in the terminal, for `smx link`. */
import QRCode from 'qrcode';

/** Renders `payload` as a compact terminal QR code (two modules per character row). */
export function renderTerminalQr(payload: string): Promise<string> {
  return QRCode.toString(payload, { type: 'terminal', small: true });
}
