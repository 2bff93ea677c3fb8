import { PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import { OutboxStreamPlugin, type OutboxStreamMessage } from './outbox-stream';

// pgoutput protocol 1, as the server sends it (protocol-logicalrep-message-formats).
const INT8 = 20;
const TEXT = 25;
const JSONB = 3802;
const OUTBOX_OID = 16_400;

const int16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const cstring = (s: string) => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);

function relation(oid: number, name: string, columns: [string, number][]): Buffer {
  return Buffer.concat([
    Buffer.from('R'),
    int32(oid),
    cstring('public'),
    cstring(name),
    Buffer.from('d'),
    int16(columns.length),
    ...columns.flatMap(([column, type]) => [Buffer.from([column === 'id' ? 1 : 0]), cstring(column), int32(type), int32(-1)]),
  ]);
}

function insert(oid: number, values: (string | null)[]): Buffer {
  return Buffer.concat([
    Buffer.from('I'),
    int32(oid),
    Buffer.from('N'),
    int16(values.length),
    ...values.flatMap((value) => {
      if (value === null) return [Buffer.from('n')];
      const bytes = Buffer.from(value, 'utf8');
      return [Buffer.from('t'), int32(bytes.length), bytes];
    }),
  ]);
}

const OUTBOX_COLUMNS: [string, number][] = [
  ['id', INT8],
  ['destination', TEXT],
  ['topic', TEXT],
  ['routing_key', TEXT],
  ['message_key', TEXT],
  ['payload', TEXT],
  ['headers', JSONB],
];

const options: Pgoutput.Options = { protoVersion: 1, publicationNames: ['outbox_cdc'], messages: true };

/** The row as the library decodes it, mapped the way the relay used to map it. */
function libraryRow(tuple: Record<string, unknown>) {
  return {
    id: String(tuple['id']),
    destination: tuple['destination'],
    topic: tuple['topic'],
    routingKey: tuple['routing_key'] ?? null,
    key: tuple['message_key'],
    payload: tuple['payload'],
    headers: tuple['headers'],
  };
}

function rowOf(message: OutboxStreamMessage) {
  if (message.tag !== 'outbox-insert') throw new Error(`expected an outbox row, got ${message.tag}`);
  const { xid, commitEndLsn, ...row } = message.row;
  expect(xid).toBe(0);
  expect(commitEndLsn).toBeUndefined();
  return row;
}

describe('OutboxStreamPlugin', () => {
  it('When outbox rows are streamed, then each is read into the same row as the library reads it, UTF-8 and nulls included', () => {
    const plugin = new OutboxStreamPlugin(options);
    const library = new PgoutputPlugin(options);
    const described = relation(OUTBOX_OID, 'outbox', OUTBOX_COLUMNS);
    expect(plugin.parse(described).tag).toBe('relation');
    library.parse(described);

    const rows: (string | null)[][] = [
      ['9007199254740993', 'kafka', 'order.events', null, 'order-1', '{"note":"Zürich → 東京 🚚"}', '{"traceparent": "00-abc-def-01", "x-idempotency": "é"}'],
      ['2', 'rabbitmq', 'notifications', 'sms.send', 'user-7', '', '{}'],
    ];
    for (const values of rows) {
      const wal = insert(OUTBOX_OID, values);
      const expected = library.parse(wal) as Pgoutput.MessageInsert;
      expect(rowOf(plugin.parse(wal))).toEqual(libraryRow(expected.new));
    }
    expect(rowOf(plugin.parse(insert(OUTBOX_OID, rows[0])))).toMatchObject({
      id: '9007199254740993', // past 2^53: kept as the digits
      routingKey: null,
      payload: '{"note":"Zürich → 東京 🚚"}',
      headers: { traceparent: '00-abc-def-01', 'x-idempotency': 'é' },
    });
  });

  it('When the relation sends its columns in another order, with one the relay does not read, then the row is read by column name', () => {
    const plugin = new OutboxStreamPlugin(options);
    plugin.parse(relation(OUTBOX_OID, 'outbox', [['created_at', 1184], ...[...OUTBOX_COLUMNS].reverse()]));
    const row = rowOf(plugin.parse(insert(OUTBOX_OID, ['2026-12-07 18:00:00+00', '{"a":"b"}', 'body', 'k', 'rk', 't', 'rabbitmq', '41'])));
    expect(row).toEqual({ id: '41', destination: 'rabbitmq', topic: 't', routingKey: 'rk', key: 'k', payload: 'body', headers: { a: 'b' } });
  });

  it('When a relation is altered mid-session, then the rows after its new relation message are read by the new layout', () => {
    const plugin = new OutboxStreamPlugin(options);
    plugin.parse(relation(OUTBOX_OID, 'outbox', OUTBOX_COLUMNS));
    plugin.parse(relation(OUTBOX_OID, 'outbox', [...OUTBOX_COLUMNS, ['note', TEXT]]));
    const row = rowOf(plugin.parse(insert(OUTBOX_OID, ['5', 'kafka', 't', null, 'k', 'p', '{}', 'ignored'])));
    expect(row).toMatchObject({ id: '5', payload: 'p', headers: {} });
  });

  it('When another table is in the stream, or transactions begin and commit, then those messages are the library’s', () => {
    const plugin = new OutboxStreamPlugin(options);
    plugin.parse(relation(OUTBOX_OID, 'outbox', OUTBOX_COLUMNS));
    plugin.parse(relation(OUTBOX_OID + 1, 'orders', [['id', INT8]]));
    const other = plugin.parse(insert(OUTBOX_OID + 1, ['7']));
    expect(other).toMatchObject({ tag: 'insert', relation: { name: 'orders' }, new: { id: '7' } });
    const begin = Buffer.concat([Buffer.from('B'), int32(0), int32(0x100), Buffer.alloc(8), int32(731)]);
    expect(plugin.parse(begin)).toMatchObject({ tag: 'begin', xid: 731 });
  });

  it('When the outbox relation lacks a column the relay publishes, then missingColumns names it', () => {
    const plugin = new OutboxStreamPlugin(options);
    const message = plugin.parse(
      relation(
        OUTBOX_OID,
        'outbox',
        OUTBOX_COLUMNS.filter(([name]) => name !== 'headers'),
      ),
    );
    if (message.tag !== 'relation') throw new Error('expected the relation');
    expect(OutboxStreamPlugin.missingColumns(message)).toEqual(['headers']);
    expect(OutboxStreamPlugin.missingColumns({ ...message, columns: [] }).length).toBe(7);
  });
});
