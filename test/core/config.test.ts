import test from 'ava';
import { CONFIG_DEFAULTS, ConfigError, loadConfig } from '../../core/config.js';

test('defaults apply when nothing is set, and the result is frozen', (t) => {
  const config = loadConfig({});
  t.is(config.httpPort, CONFIG_DEFAULTS.httpPort);
  t.is(config.mqttPort, 1883);
  t.is(config.mqttWsPort, 8083);
  t.is(config.redisUrl, 'redis://127.0.0.1:6379');
  t.true(config.redisUrlDefaulted);
  t.is(config.databaseUrl, undefined);
  t.is(config.dataDir, './var');
  t.deepEqual(config.plugins, []);
  t.true(Object.isFrozen(config));
});

test('every port may be 0, and values are trimmed and parsed', (t) => {
  const config = loadConfig({
    SMX_HTTP_PORT: '0',
    SMX_MQTT_PORT: ' 0 ',
    SMX_MQTT_WS_PORT: '0',
    SMX_PLUGINS: ' a.js , ,b ',
    REDIS_URL: 'redis://h:1/',
  });
  t.deepEqual([config.httpPort, config.mqttPort, config.mqttWsPort], [0, 0, 0]);
  t.deepEqual(config.plugins, ['a.js', 'b']);
  t.is(config.redisUrl, 'redis://h:1');
  t.false(config.redisUrlDefaulted);
});

test('a bad value throws a ConfigError naming the variable', (t) => {
  const error = t.throws(() => loadConfig({ SMX_PUBLIC_URL: 'not a url' }), { instanceOf: ConfigError });
  t.is(error?.variable, 'SMX_PUBLIC_URL');
  t.regex(error?.message ?? '', /^SMX_PUBLIC_URL: expected a URL/);
  t.throws(() => loadConfig({ SMX_REDIS_PREFIX: 'has space' }), { message: /SMX_REDIS_PREFIX/ });
  t.throws(() => loadConfig({ SMX_DATABASE_SCHEMA: 'Drop;Table' }), { message: /SMX_DATABASE_SCHEMA/ });
});

test('compatibility surfaces are on by default; SMX_COMPAT_* read booleans and refuse anything else', (t) => {
  t.deepEqual([loadConfig({}).compatSmsVerify, loadConfig({}).compatOtp], [true, true]);
  const off = loadConfig({ SMX_COMPAT_SMS_VERIFY: 'false', SMX_COMPAT_OTP: 'OFF' });
  t.deepEqual([off.compatSmsVerify, off.compatOtp], [false, false]);
  t.true(loadConfig({ SMX_COMPAT_OTP: '1' }).compatOtp);
  const error = t.throws(() => loadConfig({ SMX_COMPAT_OTP: 'maybe' }), { instanceOf: ConfigError });
  t.is(error?.variable, 'SMX_COMPAT_OTP');
  t.regex(error?.message ?? '', /^SMX_COMPAT_OTP: expected a boolean/);
});
