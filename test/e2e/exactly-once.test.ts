/**
 * Exactly one publish per message when nothing fails. Single OTPs are hammered at a steady rate
 * to one unpaced phone that reports `sent` the moment a message arrives — the report then races
 * the dispatcher's DISPATCHED mark for the same row, which is where a second publish came from.
 * The phone is a raw MQTT client that counts every copy it receives, before any de-duplication.
 */
import test from 'ava';
import { connectRaw, deviceOptions } from '../helpers/mqtt.js';
import { createProject, linkNewDevice, phoneMarker, useSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'exactly-once');

/** OTPs sent; EXACTLY_ONCE_OTPS raises it for a longer local run. 0.2 % of 2,500 is 5 expected duplicates before the fix. */
const OTPS = Number(process.env.EXACTLY_ONCE_OTPS ?? 2500);
const IN_FLIGHT = 16;

test('single OTPs at a steady rate reach a fast-reporting phone exactly once each (0 duplicate copies)', async (t) => {
  t.timeout(150_000);
  const smx = current();
  const { projectId, key } = await createProject(smx, 'Exactly once');
  const credentials = await linkNewDevice(smx, projectId, 'Counting phone');
  await smx.admin('PATCH', `/admin/devices/${credentials.deviceId}`, { sendRatePerMinute: 0 });

  const copies = new Map<string, number>();
  let duplicateDupFlags = 0;
  const phone = await connectRaw(t, credentials.mqtt.url, deviceOptions(credentials, { clean: false }));
  phone.on('message', (topic, payload, packet) => {
    if (!topic.endsWith('/outbox')) return;
    const { messages } = JSON.parse(payload.toString()) as { messages: Array<{ id: string }> };
    const updates: Array<{ id: string; state: string; at: string }> = [];
    for (const { id } of messages) {
      const seen = copies.get(id) ?? 0;
      copies.set(id, seen + 1);
      if (seen > 0 && packet.dup) duplicateDupFlags++;
      const at = new Date().toISOString();
      updates.push({ id, state: 'sent', at }, { id, state: 'delivered', at });
    }
    phone.publish(credentials.topics.status, JSON.stringify({ updates }), { qos: 1 });
  });
  await phone.subscribeAsync([credentials.topics.outbox, credentials.topics.control], { qos: 1 });

  const messageIds: string[] = [];
  let next = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < OTPS) {
        const n = next++;
        const to = `+49151${String(10_000_000 + n).padStart(8, '0')}`;
        const sent = await smx.api(key, 'POST', '/v1/send-otp', { to });
        if (sent.status !== 201) throw new Error(`send-otp ${n}: ${sent.status} ${JSON.stringify(sent.body)}`);
        messageIds.push(sent.body.data.messageId);
      }
    }),
  );
  const acceptSeconds = (Date.now() - started) / 1000;
  await eventually(async () => messageIds.every((id) => copies.has(id)), 60_000, 'every OTP at the phone');
  // An SMS handed to the phone after every OTP: a second copy of any of them would have arrived before it.
  copies.delete(await phoneMarker(smx, key, (id) => copies.has(id)));

  const duplicates = [...copies.values()].filter((n) => n > 1).length;
  t.log(
    `${OTPS} OTPs accepted in ${acceptSeconds.toFixed(1)} s (${Math.round(OTPS / acceptSeconds)}/s); phone received ${copies.size} distinct, ${duplicates} more than once (${duplicateDupFlags} of those copies with DUP=1)`,
  );
  t.is(copies.size, OTPS);
  t.is(duplicates, 0, 'no message was published to the phone twice');
});
