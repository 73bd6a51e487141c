/** The in-process poke between accepted messages and a running dispatcher: no poke is lost. */
import test from 'ava';
import { DispatchWakeups } from '../../core/delivery/dispatch-wakeups.js';

test('a poke reaches only a registered holder; one that came after the last read makes wait() return at once', async (t) => {
  const wakeups = new DispatchWakeups();
  t.false(wakeups.poke('dev_a'), 'nobody holds dev_a here');
  const holder = wakeups.hold('dev_a');
  t.false(holder.everPoked);
  t.true(wakeups.poke('dev_a'));
  t.false(wakeups.poke('dev_b'), 'per device');
  t.true(holder.everPoked);
  t.true(await holder.wait(10_000), 'the poke came after the last read: read again');
  holder.beforeRead();
  const waiting = holder.wait(10_000);
  t.true(wakeups.poke('dev_a'));
  t.true(await waiting, 'a poke ends the wait');
  holder.beforeRead();
  t.false(holder.close(), 'every poke was answered by a read');
  t.false(wakeups.poke('dev_a'), 'closed');
});

test('a wait that times out closes the holder in the same step, and close() reports an unanswered poke', async (t) => {
  const wakeups = new DispatchWakeups();
  const lingering = wakeups.hold('dev_a');
  t.false(await lingering.wait(5));
  t.false(wakeups.poke('dev_a'), 'later pokes go to the queue path');
  t.false(lingering.close());

  const paced = wakeups.hold('dev_a');
  paced.beforeRead();
  t.true(wakeups.poke('dev_a'));
  t.true(paced.close(), 'poked after its last read: the caller must signal the queue');

  const first = wakeups.hold('dev_b');
  const second = wakeups.hold('dev_b');
  first.close();
  t.true(wakeups.poke('dev_b'), 'closing a replaced holder leaves the current one registered');
  t.true(second.close());
});
