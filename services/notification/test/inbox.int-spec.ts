import { SendPush } from '@conveyor/contracts';
import { eventually, uniqueName, type ServiceProcess } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { startNotificationStack, type NotificationStack } from './support/notification-stack';

interface StreamEvent {
  event: string;
  id?: string;
  data: { id: string; status: string; title: string | null };
}

/** An SSE client: collects the events of one stream until closed. */
async function openStream(url: string, headers: Record<string, string>) {
  const controller = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const events: StreamEvent[] = [];
  if (res.status !== 200 || !res.body) return { status: res.status, events, close: () => controller.abort() };
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  void (async () => {
    let buffered = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffered += value;
        let end: number;
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const field = (name: string) =>
            block
              .split('\n')
              .find((l) => l.startsWith(`${name}:`))
              ?.slice(name.length + 1)
              .trim();
          const data = field('data');
          if (data) events.push({ event: field('event') ?? 'message', id: field('id'), data: JSON.parse(data) as StreamEvent['data'] });
        }
      }
    } catch {
      // aborted
    }
  })();
  return { status: res.status, events, close: () => controller.abort() };
}

describe('in-app inbox and live stream', () => {
  let stack: NotificationStack;
  /** A consumes the commands; B consumes another (empty) queue and only serves streams: what B streams, A processed. */
  let a: ServiceProcess;
  let b: ServiceProcess;

  beforeAll(async () => {
    stack = await startNotificationStack();
    a = stack.service;
    b = await stack.startReplica({
      NOTIFICATION_EXCHANGE: uniqueName('idle_exchange'),
      NOTIFICATION_QUEUE: uniqueName('idle_queue'),
    });
  }, 120_000);

  afterAll(() => stack?.stop());

  const pushTo = (userId: string, orderId = randomUUID()) =>
    SendPush.create(userId, { recipientId: userId, template: 'order-paid', locale: 'en', params: { orderId, amount: '500', currency: 'KRW' } });
  const sent = (id: string) =>
    eventually(async () => ((await stack.log.row(id))?.status === 'SENT' ? true : undefined), { timeoutMs: 20_000, what: `${id} SENT` });

  it('When a client streams from instance B, then it receives the notification instance A processed', async () => {
    const userId = `seller-${randomUUID()}`;
    const stream = await openStream(`${b.url}/users/${userId}/notifications/stream`, await stack.tokens.asUser(userId));
    try {
      expect(stream.status).toBe(200);
      const command = pushTo(userId);
      const published = Date.now();
      await stack.publisher.publish([command]);
      const event = await eventually(() => stream.events.find((e) => e.data.id === command.id), {
        timeoutMs: 10_000,
        intervalMs: 10,
        what: 'the live event on B',
      });
      // A figure, not an assertion (no wall-clock bounds in the default suite): publish on A's queue → event on B's stream.
      console.log(`live notification: published to A, streamed by B after ${Date.now() - published} ms`);
      expect(event).toMatchObject({ event: 'notification', id: command.id, data: { status: 'SENT', title: 'New paid order' } });
    } finally {
      stream.close();
    }
  });

  it('When a notification is processed while no client listens, then it is in the inbox and not in the stream opened later', async () => {
    const userId = `seller-${randomUUID()}`;
    const auth = await stack.tokens.asUser(userId);
    const unheard = pushTo(userId);
    await stack.publisher.publish([unheard]);
    await sent(unheard.id);

    const stream = await openStream(`${b.url}/users/${userId}/notifications/stream`, auth);
    try {
      const heard = pushTo(userId);
      await stack.publisher.publish([heard]);
      // Once the later one has arrived, the earlier one would have been there before it.
      await eventually(() => stream.events.find((e) => e.data.id === heard.id), { timeoutMs: 10_000, what: 'the later notification' });
      expect(stream.events.map((e) => e.data.id)).toEqual([heard.id]);
    } finally {
      stream.close();
    }
    const inbox = (await (await fetch(`${b.url}/users/${userId}/notifications`, { headers: auth })).json()) as { notifications: { id: string }[] };
    expect(inbox.notifications.map((n) => n.id)).toEqual(expect.arrayContaining([unheard.id]));
  });

  it('When the inbox is read by pages, then every notification comes once, newest first', async () => {
    const userId = `reader-${randomUUID()}`;
    const auth = await stack.tokens.asUser(userId);
    const commands = Array.from({ length: 5 }, () => pushTo(userId));
    await stack.publisher.publish(commands);
    for (const c of commands) await sent(c.id);
    const seen: { id: string; createdAt: string }[] = [];
    let cursor: string | null = null;
    do {
      const res = await fetch(`${a.url}/users/${userId}/notifications?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { headers: auth });
      expect(res.status).toBe(200);
      const page = (await res.json()) as { notifications: { id: string; createdAt: string }[]; nextCursor: string | null };
      seen.push(...page.notifications);
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.map((n) => n.id).sort()).toEqual(commands.map((c) => c.id).sort());
    expect([...seen].sort((x, y) => y.createdAt.localeCompare(x.createdAt))).toEqual(seen);
  });

  it('When another user asks for an inbox or its stream, then 404; an admin may read it; a bad cursor is 400', async () => {
    const owner = `owner-${randomUUID()}`;
    const other = await stack.tokens.asUser(`other-${randomUUID()}`);
    const list = await fetch(`${a.url}/users/${owner}/notifications`, { headers: other });
    expect(list.status).toBe(404);
    await expect(list.json()).resolves.toMatchObject({ code: 'NOTIFICATION.INBOX_NOT_FOUND' });
    const stream = await openStream(`${a.url}/users/${owner}/notifications/stream`, other);
    expect(stream.status).toBe(404);
    expect((await fetch(`${a.url}/users/${owner}/notifications`, { headers: await stack.tokens.asAdmin() })).status).toBe(200);
    const bad = await fetch(`${a.url}/users/${owner}/notifications?cursor=nonsense`, { headers: await stack.tokens.asUser(owner) });
    expect(bad.status).toBe(400);
    expect((await fetch(`${a.url}/users/${owner}/notifications`)).status).toBe(401);
  });
});
