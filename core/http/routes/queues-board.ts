import type { FastifyInstance } from 'fastify';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queues } from '../../queues.js';

export const BULL_BOARD_PATH = '/admin/queues';

/** Bull Board over every queue, for operators. Mounted inside the admin-guarded scope. */
export async function queueBoardRoutes(app: FastifyInstance, queues: Queues): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  createBullBoard({
    queues: queues.all().map((q) => new BullMQAdapter(q)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'SMX queues' } },
  });
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  await app.register(serverAdapter.registerPlugin() as never, { prefix: BULL_BOARD_PATH });
}
