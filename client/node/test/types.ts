// Compiled by `npm run typecheck`, never run: what a TypeScript caller writes must type-check
// against lib/index.d.ts, and the misuses marked @ts-expect-error must not.
import { CellgwClient, describeError, remoteErrorOf, settingsFromEnv, status } from '../lib';
import type { CallResponse, RemoteError } from '../lib';

async function example(): Promise<void> {
  const client = new CellgwClient({ ...settingsFromEnv(), token: 'secret' });
  try {
    const reply: CallResponse = await client.call(
      { target: { topic: 'compute', server: 'host1' }, method: 'echo', args_json: '{"x": 1}', timeout: { seconds: 5 } },
      { deadline: Date.now() + 5000, requestId: 'req-1' },
    );
    const value: unknown = JSON.parse(reply.result_json);
    const { unique_id } = await client.cast({ target: { topic: 'compute' }, method: 'note' });
    const cells: string[] = (await client.listCells()).cells.map((cell) => cell.name);
    console.log(value, unique_id, cells);
  } catch (error) {
    const remote: RemoteError | null = remoteErrorOf(error);
    if (remote !== null && remote.exception_class === 'NoSuchMethod') console.error(remote.traceback.join(''));
    if ((error as { code?: number }).code === status.UNIMPLEMENTED) console.error(describeError(error));
  } finally {
    client.close();
  }
  // @ts-expect-error: a target needs a topic
  await client.fanout({ target: {}, method: 'note' });
  // @ts-expect-error: args travel as JSON text, not as objects
  await client.call({ target: { topic: 'compute' }, method: 'echo', args_json: { x: 1 } });
  // @ts-expect-error: the port is part of addr
  new CellgwClient({ addr: 'localhost', port: 50051 });
}

void example;
