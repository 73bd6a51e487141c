// The image's HEALTHCHECK: GET /health/ready on this container's SMX; exit 0 when it answers 200.
// It asks the SMX_METRICS_PORT listener when that is set (`smx worker` and `smx broker` serve no
// HTTP API), else the API on SMX_HTTP_PORT (HTTPS when SMX_TLS_CERT is set; the certificate is
// for the public name, so it is not verified against 127.0.0.1).
import http from 'node:http';
import https from 'node:https';

const env = process.env;
const metricsPort = env.SMX_METRICS_PORT?.trim();
const client = !metricsPort && env.SMX_TLS_CERT ? https : http;
const port = Number(metricsPort || env.SMX_HTTP_PORT || 8080);
const request = client.get(
  { host: '127.0.0.1', port, path: '/health/ready', timeout: 4000, rejectUnauthorized: false },
  (response) => {
    response.resume();
    process.exit(response.statusCode === 200 ? 0 : 1);
  },
);
request.on('timeout', () => request.destroy(new Error('timeout')));
request.on('error', () => process.exit(1));
