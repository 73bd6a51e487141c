/**
 * The addresses this SMX serves on, known only once listeners are bound (ports may be 0).
 * Start-up fills them in; link responses and QR codes read them.
 */
export class Endpoints {
  /** Base URL phones and QR codes use (SMX_PUBLIC_URL, or http://localhost:{bound port}). */
  publicUrl = '';
  /** MQTT URL handed to phones. */
  mqttUrl = '';
  /** MQTT-over-WebSocket URL handed to phones ('' when none is served). */
  mqttWsUrl = '';
}
